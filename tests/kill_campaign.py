"""Kill anywhere: SIGKILL a tiny CPU training run at random moments, resume it
each time, and check that it ends exactly like an uninterrupted run.

Half of the kills come from outside at a random time (start-up included); the
other half from inside, at the N-th pass through a random fault point of the
writes (``RLSIGHT_FAULTS=kill:POINT@N``, rlsight/runs/faults.py): inside an
atomic file write, before a checkpoint folder's rename, between a checkpoint's
weights and its state, half-way through a metrics line. After every kill the
run directory must open, its newest checkpoint must load, and its metrics must
be whole consecutive rows; at the end the metrics (every column but the timing
ones) and the final weights must equal the uninterrupted run's bit for bit.

    PYTHONPATH=. python -m tests.kill_campaign --kills 100 [--seed 1] [--dir DIR]

(tests/test_kill_anywhere.py runs 30 kills.)
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rlsight.runs import TIMING_COLUMNS, RunDir, is_run_dir
from rlsight.runs.checkpoint import load_tensors
from rlsight.runs.faults import ENV
from rlsight.runs.load import load_policy

REPO = Path(__file__).resolve().parent.parent
# fault point -> the largest N in kill:POINT@N (about two updates' worth of passes:
# each update appends a metrics line and writes a checkpoint of 3 files)
POINTS = {"*": 12, "write": 8, "dir": 2, "checkpoint": 2, "metrics": 2}
UPDATES = 10


def campaign_config():
    """10 updates of 256 steps, a checkpoint after every update, the newest 2 kept."""
    from tests.conftest import tiny_config

    return tiny_config(train__total_steps=256 * UPDATES, train__save_step=256, train__keep_checkpoints=2)


@dataclass
class Result:
    kills: int = 0
    runs: int = 0
    segments: int = 0
    by_kind: Counter = field(default_factory=Counter)

    def line(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
        return (f"kills survived: {self.kills} ({kinds}) over {self.runs} run(s) of {UPDATES} updates, "
                f"{self.segments} processes; every run equal to the uninterrupted one")


def _cmd(conf: Path, run: Path) -> list[str]:
    base = [sys.executable, "-m", "rlsight.cli.main", "train", "--no-progress"]
    return base + (["--resume", str(run)] if is_run_dir(run) else ["--config", str(conf), "--run-dir", str(run)])


def _env(faults: str = "") -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop(ENV, None)
    if faults:
        env[ENV] = faults
    return env


def _check_after_kill(run: Path) -> None:
    """What a reader sees after a kill: a run that opens, a loadable newest checkpoint,
    whole consecutive metrics rows."""
    if not run.exists():
        return  # killed before the run folder appeared (it appears whole or not at all)
    r = RunDir.open(run)
    updates = [int(m["update"]) for m in r.metrics()]
    assert updates == list(range(1, len(updates) + 1)), f"metrics rows after a kill: {updates}"
    if r.checkpoints():
        load_policy(r)


def assert_same(run: Path, ref: Path) -> None:
    """Metrics (all but the timing columns) and final weights equal the reference's."""
    rows, ref_rows = RunDir.open(run).metrics(), RunDir.open(ref).metrics()
    assert [m["update"] for m in rows] == [m["update"] for m in ref_rows], "a metrics row lost or duplicated"
    for a, b in zip(rows, ref_rows):
        for k in a:
            if k not in TIMING_COLUMNS:
                assert a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])), (a["update"], k, a[k], b[k])
    w, w_ref = load_tensors(run / "model.safetensors"), load_tensors(ref / "model.safetensors")
    assert w.keys() == w_ref.keys() and all(torch.equal(w[k], w_ref[k]) for k in w), "final weights differ"
    assert RunDir.open(run).info()["status"] == "finished"


def campaign(kills: int, workdir: Path, seed: int = 0, say=print, max_segments_per_run: int = 300) -> Result:
    """Kill, resume and check until ``kills`` kills were survived; returns the counts."""
    rng = random.Random(seed)
    conf = workdir / "tiny.toml"
    conf.write_text(campaign_config().to_toml())
    ref = workdir / "ref"
    t0 = time.monotonic()
    subprocess.run(_cmd(conf, ref), env=_env(), check=True, capture_output=True, timeout=600)
    ref_s = time.monotonic() - t0
    say(f"uninterrupted run: {ref_s:.1f} s")
    res = Result()
    while res.kills < kills:
        run = workdir / f"run{res.runs}"
        for _ in range(max_segments_per_run):
            res.segments += 1
            if rng.random() < 0.5:
                point = rng.choice(sorted(POINTS))
                nth = rng.randint(1, POINTS[point])
                kind, delay, faults = f"inside {point}", None, f"kill:{point}@{nth}"
            else:
                kind, delay, faults = "timed", rng.uniform(0, 0.5 * ref_s), ""
            started = time.monotonic()
            p = subprocess.Popen(_cmd(conf, run), env=_env(faults), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
            try:
                _, err = p.communicate(timeout=delay) if delay is not None else p.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                _, err = p.communicate()
            if p.returncode == -signal.SIGKILL:
                if res.kills < kills:
                    res.kills += 1
                    res.by_kind[kind] += 1
                _check_after_kill(run)
                if is_run_dir(run) and RunDir.open(run).info()["status"] == "finished":
                    break  # killed while exiting, after the run was complete
                continue
            assert p.returncode == 0, f"training exited {p.returncode}: {err}"
            if delay is not None:  # a whole run took less than the reference did (a less loaded machine):
                ref_s = min(ref_s, time.monotonic() - started)  # aim the timed kills at this pace
            if RunDir.open(run).info()["status"] == "finished":
                break
        else:
            raise AssertionError(f"{run} did not finish after {max_segments_per_run} processes")
        assert_same(run, ref)
        res.runs += 1
        say(f"run {res.runs} finished equal to the uninterrupted run; {res.kills} kills so far")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    a = ap.parse_args(argv)
    if a.dir:
        a.dir.mkdir(parents=True, exist_ok=True)
        print(campaign(a.kills, a.dir, a.seed).line())
    else:
        with tempfile.TemporaryDirectory(prefix="rlsight-kills-") as d:
            print(campaign(a.kills, Path(d), a.seed).line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
