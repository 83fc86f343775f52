"""Two promises of docs/run-directory.md about interrupted sweep trials, each checked
without starting a process: an assignment interrupted more than MAX_RESUMES times is
given up as failed, and a trial whose SLURM requeue fails is interrupted, not failed."""

from __future__ import annotations

import textwrap

from rlsight.sweep.study import MAX_RESUMES, TrialRecord, settled_records, to_resume
from tests.conftest import tiny_config


def _interrupted(number: int, retry_of: int | None) -> TrialRecord:
    return TrialRecord(number, "FAIL", None, {"ppo.lr": 1e-3}, ["trials/0000/seed0"], "", "interrupted before it "
                       "finished", True, retry_of, None)


def test_an_assignment_interrupted_more_than_max_resumes_times_is_given_up_as_failed():
    chain = [_interrupted(0, None)]
    for n in range(1, MAX_RESUMES + 1):  # interrupted n times: continued
        assert to_resume(chain) == [chain[-1]] and settled_records(chain) == []
        chain.append(_interrupted(n, n - 1))
    assert MAX_RESUMES + 1 == len(chain)  # interrupted once more: given up, counted as failed
    assert to_resume(chain) == [] and settled_records(chain) == [chain[-1]]


def test_a_trial_whose_requeue_fails_is_interrupted_not_failed(tmp_path):
    from optuna.trial import TrialState

    from rlsight.sweep import load_sweep
    from rlsight.sweep.driver import _Trials
    from rlsight.sweep.study import open_spec, prepare_dir
    from rlsight.sweep.trial import preempted, run_trial

    (tmp_path / "tiny.toml").write_text(tiny_config().to_toml())
    f = tmp_path / "sweep.toml"
    f.write_text(textwrap.dedent("""
        base = "tiny.toml"
        train_fn = "tests.sweep_fakes:train_requeue_fails"
        strategy = "grid"
        [params]
        "ppo.lr" = [1e-3]
        [objective]
        metric = "test_return"
        """))
    d = tmp_path / "sw"
    prepare_dir(load_sweep(f), f, d)
    trials = _Trials(open_spec(d), d)
    number = trials.create({"ppo.lr": 1e-3})
    try:
        assert run_trial(d, number) == "INTERRUPTED"
    finally:
        preempted.clear()
    t = trials.handle(number, frozen=True)
    assert t.state == TrialState.RUNNING and "error" not in t.user_attrs  # continued by the next `sweep run`
