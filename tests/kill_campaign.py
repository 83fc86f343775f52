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

``--terms N`` mixes in N processes stopped by SIGTERM at a random moment, half of
them sent a second SIGTERM soon after (until one has stopped with a checkpoint, a
SIGTERM on a run with at least two updates to go is sent once its next metrics row
is written, so that at least one lands inside training whatever the machine's pace): each must stop with a checkpoint of its last
metrics row and status ``interrupted`` (exit 0), or, signalled before its first
update or a second time, stop as a killed one does (exit -15 or 130).

The uninterrupted run is a fresh ``python -m rlsight.cli.main train``; the killed
ones are forked from a server that imported rlsight, torch and procgen once
(tests/forked.py), so that a kill costs no interpreter start-up. A forked
uninterrupted run is checked equal to the fresh one first.

    PYTHONPATH=. python -m tests.kill_campaign --kills 100 [--seed 1] [--dir DIR]

(tests/test_kill_anywhere.py runs 30 kills.)
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
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
from rlsight.runs.rundir import METRICS
from tests.forked import Command

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
    terms: int = 0
    by_term: Counter = field(default_factory=Counter)

    def line(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
        terms = f", {self.terms} SIGTERMs ({', '.join(f'{k} {n}' for k, n in sorted(self.by_term.items()))})"
        return (f"kills survived: {self.kills} ({kinds}){terms if self.terms else ''} over {self.runs} run(s) of "
                f"{UPDATES} updates, {self.segments} processes; every run equal to the uninterrupted one")


def _argv(conf: Path, run: Path) -> list[str]:
    return ["train", "--no-progress"] + (["--resume", str(run)] if is_run_dir(run) else
                                         ["--config", str(conf), "--run-dir", str(run)])


def _env(faults: str = "") -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop(ENV, None)
    if faults:
        env[ENV] = faults
    return env


def _rows(run: Path) -> int:
    """Whole metrics rows written so far (0 before the run folder or its metrics exist)."""
    try:
        data = (run / METRICS).read_bytes()
    except FileNotFoundError:
        return 0
    return max(data.count(b"\n") - 1, 0)  # minus the header; a partial last line has no newline yet


def _wait_for_row(p: Command, run: Path, rows_before: int) -> int | None:
    """Wait until ``run`` has a metrics row beyond ``rows_before`` (then None) or ``p`` ends (its status)."""
    while (rc := p.wait(0.005)) is None:
        if _rows(run) > rows_before:
            return None
    return rc


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
    left = sorted(run.rglob(".*"))  # temporaries of killed writes: the resumes removed them
    assert not left, f"left behind: {left}"


def _terminated(p: Command, rc: int | None, run: Path, res: Result, again: float | None) -> int:
    """SIGTERM the process ``p`` (a second one after ``again`` seconds, if given) and check what it
    left; returns its exit status."""
    if rc is None:
        p.signal(signal.SIGTERM)
        if again is not None and p.wait(again) is None:
            p.signal(signal.SIGTERM)
        rc = p.wait(600)
    if rc == 0:
        r = RunDir.open(run)
        status, rows = r.info()["status"], r.metrics()
        assert status in ("interrupted", "finished"), f"SIGTERM: exit 0 with status {status}"
        if status == "interrupted":  # stopped with a checkpoint of its last row (if any): nothing lost
            newest = r.checkpoints()[-1].name if r.checkpoints() else None
            assert newest == (f"step_{int(rows[-1]['step']):012d}" if rows else None), (newest, rows[-1:])
            res.by_term["stopped with a checkpoint"] += 1
        else:
            res.by_term["after the end"] += 1
    else:
        assert rc in (130, -signal.SIGTERM), f"SIGTERM: training exited {rc}: {p.output()}"
        res.by_term["aborted (start-up or a second SIGTERM)"] += 1
        _check_after_kill(run)
    res.terms += 1
    return rc


def campaign(kills: int, workdir: Path, seed: int = 0, say=print, max_segments_per_run: int = 300,
             terms: int = 0) -> Result:
    """Kill, resume and check until ``kills`` kills (and ``terms`` SIGTERMs) were survived;
    returns the counts."""
    rng = random.Random(seed)
    conf = workdir / "tiny.toml"
    conf.write_text(campaign_config().to_toml())
    ref, pace = workdir / "ref", workdir / "forked"
    subprocess.run([sys.executable, "-m", "rlsight.cli.main", *_argv(conf, ref)], env=_env(), check=True,
                   capture_output=True, timeout=600)
    for _ in range(2):  # the first also starts the fork server; the second gives the pace of a forked run
        shutil.rmtree(pace, ignore_errors=True)
        t0 = time.monotonic()
        c = Command(_argv(conf, pace), _env(), workdir / "forked.out")
        assert c.wait(600) == 0, c.output()
        ref_s = time.monotonic() - t0
    assert_same(pace, ref)  # a forked process trains exactly like a fresh one
    say(f"uninterrupted run: {ref_s:.1f} s (forked)")
    res = Result()
    def need_stop() -> bool:  # no SIGTERM has yet stopped a run with a checkpoint
        return terms > 0 and not res.by_term["stopped with a checkpoint"]

    while res.kills < kills or res.terms < terms or need_stop():
        run = workdir / f"run{res.runs}"
        for _ in range(max_segments_per_run):
            res.segments += 1
            term = (res.terms < terms or need_stop()) and (rng.random() < 0.25 or res.kills >= kills)
            rows_before = _rows(run)
            on_progress = term and need_stop() and rows_before <= UPDATES - 2
            if term:
                kind, delay, faults = "SIGTERM", rng.uniform(0, 0.5 * ref_s), ""
            elif rng.random() < 0.5:
                point = rng.choice(sorted(POINTS))
                nth = rng.randint(1, POINTS[point])
                kind, delay, faults = f"inside {point}", None, f"kill:{point}@{nth}"
            else:
                kind, delay, faults = "timed", rng.uniform(0, 0.5 * ref_s), ""
            started = time.monotonic()
            out = workdir / f"{run.name}.out"
            out.unlink(missing_ok=True)
            p = Command(_argv(conf, run), _env(faults), out)
            if on_progress:
                rc = _wait_for_row(p, run, rows_before)
            else:
                rc = p.wait(delay if delay is not None else 600)
            if term:
                again = None if on_progress else (rng.uniform(0, 0.3) if rng.random() < 0.5 else None)
                if _terminated(p, rc, run, res, again) != 0 or RunDir.open(run).info()["status"] != "finished":
                    continue
                break
            if rc is None:
                rc = p.kill()
            if rc == -signal.SIGKILL:
                if res.kills < kills:
                    res.kills += 1
                    res.by_kind[kind] += 1
                _check_after_kill(run)
                if is_run_dir(run) and RunDir.open(run).info()["status"] == "finished":
                    break  # killed while exiting, after the run was complete
                continue
            assert rc == 0, f"training exited {rc}: {p.output()}"
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
    ap.add_argument("--terms", type=int, default=0, help="SIGTERMs to mix in")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    a = ap.parse_args(argv)
    if a.dir:
        a.dir.mkdir(parents=True, exist_ok=True)
        print(campaign(a.kills, a.dir, a.seed, terms=a.terms).line())
    else:
        with tempfile.TemporaryDirectory(prefix="rlsight-kills-") as d:
            print(campaign(a.kills, Path(d), a.seed, terms=a.terms).line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
