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
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from rlsight.runs import RunDir
from rlsight.sweep import load
from rlsight.sweep.results import best_trial
from rlsight.sweep.study import MAX_RESUMES, key
from tests.conftest import tiny_config
from tests.forked import Command
from tests.sweep_fakes import DELAY_ENV, KILL_DRIVER_ENV, LOG_ENV, TOKEN

REPO = Path(__file__).resolve().parent.parent
KILLS = 12
DELAY = 0.15  # seconds per update of a fake training (4 updates): kills land inside trials
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


def _sweep_file(tmp: Path, lrs: list[float] = LRS) -> Path:
    (tmp / "tiny.toml").write_text(tiny_config().to_toml())
    f = tmp / "sweep.toml"
    f.write_text('base = "tiny.toml"\n' + textwrap.dedent(SWEEP.format(lrs=lrs)))
    return f


def _argv(f: Path, d: Path) -> list[str]:
    return ["sweep", "run", str(f), "--dir", str(d)]


def _sweep(f: Path, d: Path, env: dict[str, str]) -> Command:
    """``rlsight sweep run`` in a process forked from the preloaded server (tests/forked.py)."""
    return Command(_argv(f, d), env, d.parent / f"{d.name}.out")


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


def _kill_until_done(f: Path, d: Path, log: Path, rng: random.Random, kills_left: int, pace: float,
                     deadline: float) -> tuple[int, int]:
    """Run the sweep in ``d``, SIGKILLing the driver at random moments up to a third of ``pace``
    (an uninterrupted sweep's time) after its start (at most ``kills_left`` times) and starting
    it again, until it ends; returns (kills, driver processes). Finished trials stay finished,
    so later drivers reach the later trials."""
    kills = procs = 0
    while True:
        procs += 1
        assert procs < 60 and time.time() < deadline, f"sweep not finished after {kills} kills"
        p = _sweep(f, d, _env(log, DELAY))
        if kills < kills_left and p.wait(rng.uniform(0.0, pace / 3)) is None and not _would_give_up_a_trial(d):
            assert p.kill() == -signal.SIGKILL
            kills += 1
            continue
        rc = p.wait(300)
        assert rc == 0, p.output()  # never a failure of its own
        return kills, procs


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
    assert trained_to_completion(d, log) == {key({"ppo.lr": lr, "ppo.entropy_coef": 0.01}): 1 for lr in LRS}
    ref_spec, ref_recs = load(ref_dir)
    best, ref_best = best_trial(spec, recs), best_trial(ref_spec, ref_recs)
    assert (best.params, best.value) == (ref_best.params, ref_best.value)
    return sum(r.interrupted for r in recs)


@pytest.mark.slow  # about a minute: a driver and a worker process per trial, started again after each kill
def test_sweep_driver_killed_at_random_moments_loses_no_trial(tmp_path, capsys):
    f = _sweep_file(tmp_path)
    ref_dir = tmp_path / "ref"
    t0 = time.monotonic()
    assert _sweep(f, ref_dir, _env(tmp_path / "ref.log", DELAY)).wait(300) == 0
    pace = time.monotonic() - t0
    rng = random.Random(34)
    kills = procs = interrupted = rounds = 0
    deadline = time.time() + 200
    while kills < KILLS:  # a sweep that ends before all kills were spent: another sweep, in a new folder
        rounds += 1
        d, log = tmp_path / f"sw{rounds}", tmp_path / f"trained{rounds}.log"
        k, n = _kill_until_done(f, d, log, rng, KILLS - kills, pace, deadline)
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

    f = _sweep_file(tmp_path, LRS[:2])
    d = tmp_path / "sw"
    from rlsight.sweep import load_sweep

    prepare_dir(load_sweep(f), f, d)
    open_study(open_spec(d), d, create=True).enqueue_trial({"ppo.lr": LRS[0], "ppo.entropy_coef": 0.5})
    recs = run_sweep(f, d, say=lambda line: None)
    _check_records(recs, LRS[:2])
    assert all(r.state != "WAITING" for r in load(d)[1])


@pytest.mark.slow  # a worker process per trial
@pytest.mark.parametrize("retry", [False, True])
def test_a_trial_asked_for_by_a_killed_driver_before_its_run_folders_were_named_is_discarded(tmp_path, monkeypatch,
                                                                                            retry):
    """Found by the kill test (main, 2026-12-02): a driver killed inside ``_Trials.create``, after
    Optuna's ask (and, for a continued trial, after its retry_of) but before the run folders were
    named, left a running trial without them; continued, it trained nothing and failed, and the
    assignment never completed. Such a trial never ran: the next driver discards it."""
    from rlsight.sweep import driver, load_sweep, run_sweep
    from rlsight.sweep.study import RETRY_OF, TrialRecord, open_spec, prepare_dir

    f = _sweep_file(tmp_path, LRS[:1])
    d, log = tmp_path / "sw", tmp_path / "trained.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    prepare_dir(load_sweep(f), f, d)
    trials = driver._Trials(open_spec(d), d)
    params = {"ppo.lr": LRS[0], "ppo.entropy_coef": 0.01}
    if retry:  # a trial interrupted by an earlier kill, being continued
        first = trials.create(params)
        trials.mark_interrupted(TrialRecord.of(trials.handle(first, frozen=True)))
    trials.study.enqueue_trial(params)
    t = trials.study.ask(trials.dists)
    if retry:
        t.set_user_attr(RETRY_OF, first)
    # ... and the driver is killed here
    recs = run_sweep(f, d, say=lambda line: None)
    _check_records(recs, LRS[:1])
    assert t.number not in [r.number for r in recs]
    assert trained_to_completion(d, log) == {key(params): 1}


@pytest.mark.slow  # a worker process per trial
def test_a_driver_killed_between_a_completion_and_its_log_line_is_counted_exactly(tmp_path):
    """The kill test's old flake, on purpose: the driver is SIGKILLed after a trial's run was
    marked finished and before the fake trainer's log line (the trial kills its driver there).
    That trial trained to completion once; the log, which the test used to count, has no line
    for it. The count from the run folders says once, before and after the sweep is continued."""
    f = _sweep_file(tmp_path, LRS[-2:])
    d, log = tmp_path / "sw", tmp_path / "trained.log"
    lr = LRS[-1]
    k = key({"ppo.lr": lr, "ppo.entropy_coef": 0.01})
    p = _sweep(f, d, dict(_env(log, 0.0), **{KILL_DRIVER_ENV: repr(lr)}))
    assert p.wait(300) == -signal.SIGKILL, p.output()
    [rec] = [r for r in load(d)[1] if key(r.params) == k]
    run = d / rec.run_dirs[0]
    assert rec.state == "RUNNING" and RunDir.open(run).info()["status"] == "finished"  # killed in the window:
    assert (run / TOKEN).read_text() not in (log.read_text() if log.exists() else "")  # finished, not logged
    assert trained_to_completion(d, log)[k] == 1
    assert _sweep(f, d, _env(log, 0.0)).wait(300) == 0
    recs = load(d)[1]
    _check_records(recs, LRS[-2:])
    assert any(r.interrupted and key(r.params) == k for r in recs)  # continued: the fake found its run finished
    assert trained_to_completion(d, log) == {key({"ppo.lr": x, "ppo.entropy_coef": 0.01}): 1 for x in LRS[-2:]}


@pytest.mark.slow  # a worker process per trial
def test_the_count_finds_an_assignment_trained_twice(tmp_path, monkeypatch):
    """The count is not loose: with the fix for a trial left queued by a killed driver undone
    (the driver no longer discards it), one assignment trains to completion twice, and the
    count says so."""
    from rlsight.sweep import driver, load_sweep, run_sweep
    from rlsight.sweep.study import open_spec, open_study, prepare_dir

    f = _sweep_file(tmp_path, LRS[:1])
    d, log = tmp_path / "sw", tmp_path / "trained.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.setattr(driver._Trials, "discard_queued", lambda self: 0)
    prepare_dir(load_sweep(f), f, d)
    open_study(open_spec(d), d, create=True).enqueue_trial({"ppo.lr": LRS[0], "ppo.entropy_coef": 0.01})
    run_sweep(f, d, say=lambda line: None)
    assert trained_to_completion(d, log)[key({"ppo.lr": LRS[0], "ppo.entropy_coef": 0.01})] == 2


def trained_to_completion(d: Path, log: Path) -> Counter:
    """How many times each assignment of the sweep in ``d`` was trained to completion.

    A training is complete at one atomic step, the rename that marks its run folder
    finished (``RunDir.update_info``), and the fake trainer never trains a finished run
    again; so the finished run folders are the completions, exactly, whenever the driver
    was killed. (The fake trainer's log, written after that rename, is not: a kill in
    between left a completed trial without its line.) The log checks the rest: each line's
    run folder still holds that training (its token), finished, so no completed run was
    deleted and trained again."""
    done: Counter = Counter()
    for marker in sorted(d.glob("trials/*/seed*/rlsight-run.json")):
        run = RunDir.open(marker.parent)
        if run.info()["status"] == "finished":
            cfg = run.config()
            done[key({"ppo.lr": cfg.ppo.lr, "ppo.entropy_coef": cfg.ppo.entropy_coef})] += 1
    for line in log.read_text().splitlines() if log.exists() else []:
        token, run_dir = line.split(" ", 1)
        assert (Path(run_dir) / TOKEN).read_text() == token, f"{run_dir}: trained again after it finished"
        assert RunDir.open(run_dir).info()["status"] == "finished", line
    return done


def _check_records(recs, lrs: list[float] = LRS) -> None:
    grid = {key({"ppo.lr": lr, "ppo.entropy_coef": e}) for lr in lrs for e in (0.01, 0.5)}
    settled = [r for r in recs if r.state in ("COMPLETE", "FAIL") and not r.interrupted]
    assert sorted(key(r.params) for r in settled) == sorted(grid)  # every point once: none lost, none twice
    numbers = {r.number: r for r in recs}
    for r in recs:  # a continued trial has the parameters and run folders of the one it continues
        if r.retry_of is not None:
            assert (r.params, r.run_dirs) == (numbers[r.retry_of].params, numbers[r.retry_of].run_dirs)
