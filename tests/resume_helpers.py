"""Shared by the resume tests: a training process SIGKILLed mid-run, resumed, and compared
row by row with an uninterrupted run."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rlsight.config import Config
from rlsight.runs import TIMING_COLUMNS, RunDir


def same_row(a: dict, b: dict) -> bool:
    """Two metrics rows agree in every column but the timings (NaN equals NaN)."""
    for k in a:
        if k in TIMING_COLUMNS:
            continue
        x, y = a[k], b[k]
        if not (x == y or (math.isnan(x) and math.isnan(y))):
            return False
    return True


def sigkill_then_resume(cfg: Config, ref: list[dict], tmp_path: Path, min_rows: int) -> None:
    """Train ``cfg`` with ``rlsight train`` in a child process, SIGKILL it once a checkpoint
    exists and ``min_rows`` metrics rows are written (training has moved past the checkpoint),
    resume it with ``rlsight train --resume``, and assert that its metrics are ``ref``'s."""
    conf = tmp_path / "tiny.toml"
    conf.write_text(cfg.to_toml())
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "rlsight.cli.main", "train", "--config", str(conf), "--run-dir", str(run_dir), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        run = RunDir(run_dir)
        if (run_dir / "checkpoints").is_dir() and run.checkpoints() and len(run.metrics()) >= min_rows:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run = RunDir.open(run_dir)
    assert run.info()["status"] == "running"
    killed_at = len(run.metrics())
    assert killed_at < len(ref), "the run finished before it could be killed"

    out = subprocess.run([sys.executable, "-m", "rlsight.cli.main", "train", "--resume", str(run_dir), "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = RunDir.open(run_dir).metrics()
    assert [r["update"] for r in rows] == [r["update"] for r in ref]
    for a, b in zip(rows, ref):
        assert same_row(a, b), f"update {a['update']} differs after resume:\n{a}\n{b}"
    assert RunDir.open(run_dir).info()["status"] == "finished"
    # the rows kept from before the kill are written as they were: whole numbers stay whole
    import csv

    for row in csv.DictReader((run_dir / "metrics.csv").read_text().splitlines()):
        assert row["update"].isdigit() and row["step"].isdigit(), row
