"""A run killed with SIGKILL and resumed matches an uninterrupted run."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import pytest

from rlsight.runs import TIMING_COLUMNS, RunDir
from rlsight.training import train
from tests.conftest import tiny_config


def _cfg():
    return tiny_config(train__total_steps=256 * 12, train__save_step=256 * 3, train__keep_checkpoints=0)


def _same(a: dict, b: dict) -> bool:
    for k in a:
        if k in TIMING_COLUMNS:
            continue
        x, y = a[k], b[k]
        if not (x == y or (math.isnan(x) and math.isnan(y))):
            return False
    return True


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    cfg = _cfg()
    ref = train(cfg, tmp_path / "ref", progress=False).metrics()

    conf = tmp_path / "tiny.toml"
    conf.write_text(cfg.to_toml())
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "rlsight.cli.main", "train", "--config", str(conf), "--run-dir", str(run_dir), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    # Kill once a checkpoint exists and training has moved past it.
    while time.time() < deadline:
        run = RunDir(run_dir)
        if (run_dir / "checkpoints").is_dir() and run.checkpoints() and len(run.metrics()) >= 5:
            break
        time.sleep(0.05)
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
        assert _same(a, b), f"update {a['update']} differs after resume:\n{a}\n{b}"
    assert RunDir.open(run_dir).info()["status"] == "finished"
