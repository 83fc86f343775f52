"""Kill the sweep driver (#34 item 6): SIGKILL ``rlsight sweep run`` at random moments,
run the same command again each time, and check that no trial is lost, none trains
twice to completion, a crashing trial stays recorded as failed with its error, and
the grid's best equals an uninterrupted sweep's. Trials use tests/sweep_fakes.py
(real run directories, made-up metrics, slowed down so that kills land inside them).

    PYTHONPATH=. python -m pytest -q -s tests/test_sweep_driver_kills.py   # prints the kill count
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from rlsight.sweep import load
from rlsight.sweep.results import best_trial
from rlsight.sweep.study import MAX_RESUMES, key
from tests.conftest import tiny_config
from tests.sweep_fakes import DELAY_ENV, LOG_ENV

REPO = Path(__file__).resolve().parent.parent
KILLS = 12
LRS = [1e-5, 1e-4, 1e-3, 1e-2]
SWEEP = """
    train_fn = "tests.sweep_fakes:train"
    strategy = "grid"
    [set]
    "train.total_steps" = 1024
    [params]
    "ppo.lr" = {lrs}
    "ppo.entropy_coef" = [0.01, 0.5]
    [objective]
    metric = "test_return"
    [local]
    workers = 2
    """


def _sweep_file(tmp: Path) -> Path:
    (tmp / "tiny.toml").write_text(tiny_config().to_toml())
    f = tmp / "sweep.toml"
    f.write_text('base = "tiny.toml"\n' + textwrap.dedent(SWEEP.format(lrs=LRS)))
    return f


def _cmd(f: Path, d: Path) -> list[str]:
    return [sys.executable, "-m", "rlsight.cli.main", "sweep", "run", str(f), "--dir", str(d)]


def _env(log: Path, delay: float) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                **{DELAY_ENV: str(delay), LOG_ENV: str(log)})


def _would_give_up_a_trial(d: Path) -> bool:
    """Whether a kill now would interrupt an assignment for the (MAX_RESUMES + 1)-th time:
    rlsight then gives it up as failed, by design, which is not what this test is about."""
    try:
        recs = load(d)[1]
    except Exception:  # noqa: BLE001 - no study yet, or it is being written
        return False
    interrupted = Counter(key(r.params) for r in recs if r.interrupted)
    return any(interrupted[key(r.params)] >= MAX_RESUMES for r in recs if r.state == "RUNNING")


def _kill_until_done(f: Path, d: Path, log: Path, rng: random.Random, kills_left: int,
                     deadline: float) -> tuple[int, int]:
    """Run the sweep in ``d``, SIGKILLing the driver at random moments (at most ``kills_left``
    times) and starting it again, until it ends; returns (kills, driver processes)."""
    kills = procs = 0
    while True:
        procs += 1
        assert procs < 60 and time.time() < deadline, f"sweep not finished after {kills} kills"
        p = subprocess.Popen(_cmd(f, d), env=_env(log, 0.15), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        if kills < kills_left:
            try:
                p.wait(timeout=rng.uniform(0.5, 6.0))
            except subprocess.TimeoutExpired:
                if not _would_give_up_a_trial(d):
                    p.send_signal(signal.SIGKILL)
                    p.wait()
                    kills += 1
                    continue
        _, err = p.communicate(timeout=300)
        if p.returncode == 0:
            return kills, procs
        assert p.returncode == -signal.SIGKILL, err  # never a failure of its own


def _check(d: Path, log: Path, ref_dir: Path) -> int:
    """No trial lost, none trained twice to completion, the crashes failed with their error,
    the best as in the uninterrupted sweep; returns how many trials were interrupted."""
    spec, recs = load(d)
    _check_records(recs)
    for r in recs:
        if r.interrupted:
            continue
        if r.params["ppo.entropy_coef"] == 0.5:  # the crashing trials: failed with their error, the sweep went on
            assert r.state == "FAIL" and "RuntimeError: synthetic crash" in r.error, r
        else:
            assert r.state == "COMPLETE", r
    trained = Counter(line.rsplit(" ", 1)[0] for line in log.read_text().splitlines())
    assert len(trained) == len(LRS) and set(trained.values()) == {1}, trained  # no trial trained to the end twice
    ref_spec, ref_recs = load(ref_dir)
    best, ref_best = best_trial(spec, recs), best_trial(ref_spec, ref_recs)
    assert (best.params, best.value) == (ref_best.params, ref_best.value)
    return sum(r.interrupted for r in recs)


@pytest.mark.slow  # 1-3 minutes: a driver and a worker process per trial, started again after each kill
def test_sweep_driver_killed_at_random_moments_loses_no_trial(tmp_path, capsys):
    f = _sweep_file(tmp_path)
    ref_dir = tmp_path / "ref"
    subprocess.run(_cmd(f, ref_dir), env=_env(tmp_path / "ref.log", 0.0), check=True, capture_output=True,
                   timeout=300)
    rng = random.Random(34)
    kills = procs = interrupted = rounds = 0
    deadline = time.time() + 200
    while kills < KILLS:  # a sweep that ends before all kills were spent: another sweep, in a new folder
        rounds += 1
        d, log = tmp_path / f"sw{rounds}", tmp_path / f"trained{rounds}.log"
        k, n = _kill_until_done(f, d, log, rng, KILLS - kills, deadline)
        kills, procs = kills + k, procs + n
        interrupted += _check(d, log, ref_dir)
    with capsys.disabled():
        print(f"\nsweep driver kills survived: {kills} (SIGKILL at random moments, {procs} driver processes over "
              f"{rounds} sweep(s) of {2 * len(LRS)} trials, {interrupted} trials interrupted and continued); "
              "no trial lost or trained twice, best unchanged")


@pytest.mark.slow  # a worker process per trial
def test_a_trial_left_queued_by_a_killed_driver_is_not_handed_out_again(tmp_path):
    """Found by the kill test: a driver killed between Optuna's enqueue_trial and ask left a
    WAITING trial, and the next ask handed it out in place of a continued trial, so that one
    assignment ran twice, in another assignment's run folder."""
    from rlsight.sweep import run_sweep
    from rlsight.sweep.study import open_spec, open_study, prepare_dir

    f = _sweep_file(tmp_path)
    d = tmp_path / "sw"
    from rlsight.sweep import load_sweep

    prepare_dir(load_sweep(f), f, d)
    open_study(open_spec(d), d, create=True).enqueue_trial({"ppo.lr": LRS[0], "ppo.entropy_coef": 0.5})
    recs = run_sweep(f, d, say=lambda line: None)
    _check_records(recs)
    assert all(r.state != "WAITING" for r in load(d)[1])


def _check_records(recs) -> None:
    grid = {key({"ppo.lr": lr, "ppo.entropy_coef": e}) for lr in LRS for e in (0.01, 0.5)}
    settled = [r for r in recs if r.state in ("COMPLETE", "FAIL") and not r.interrupted]
    assert sorted(key(r.params) for r in settled) == sorted(grid)  # every point once: none lost, none twice
    numbers = {r.number: r for r in recs}
    for r in recs:  # a continued trial has the parameters and run folders of the one it continues
        if r.retry_of is not None:
            assert (r.params, r.run_dirs) == (numbers[r.retry_of].params, numbers[r.retry_of].run_dirs)
