"""The linear learning-rate decay (ppo.anneal_lr) that configs/cpu-30min.toml relies on."""

from __future__ import annotations

import pytest

from rlsight.runs.checkpoint import load_json
from rlsight.training import resume, train
from tests.conftest import tiny_config

UPDATES = 4
PER_UPDATE = 4 * 16  # env.num_envs x ppo.num_steps

pytestmark = pytest.mark.procgen  # every test here steps real Procgen games


def _cfg(anneal: bool, **overrides):
    settings = dict(env__num_envs=4, env__num_test_envs=0, ppo__num_steps=16, ppo__batch_size=32,
                    ppo__anneal_lr=anneal, ppo__lr=1e-3, train__total_steps=PER_UPDATE * UPDATES,
                    train__save_step=PER_UPDATE)
    return tiny_config(**{**settings, **overrides})


@pytest.fixture(scope="module")
def annealed(tmp_path_factory):
    """An uninterrupted run with the decay (shared; do not modify it)."""
    return train(_cfg(True), tmp_path_factory.mktemp("lr") / "run", progress=False)


def test_lr_decays_linearly_to_zero_over_the_run(annealed):
    lrs = [row["lr"] for row in annealed.metrics()]
    assert lrs == pytest.approx([1e-3 * (1 - u / UPDATES) for u in range(UPDATES)])
    # The optimizer itself ran at the last of them (its state is in the final checkpoint).
    meta = load_json(annealed.latest_checkpoint() / "meta.json")
    assert meta["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3 / UPDATES)


def test_constant_lr_without_anneal(tmp_path):
    run = train(_cfg(False), tmp_path / "run", progress=False)
    assert [row["lr"] for row in run.metrics()] == pytest.approx([1e-3] * UPDATES)


def test_resumed_run_continues_the_schedule(annealed, tmp_path):
    # Stop after the second update (a checkpoint is written on stopping), then resume.
    train(_cfg(True), tmp_path / "cut", progress=False, on_update=lambda row: row["update"] >= 2)
    run = resume(tmp_path / "cut", progress=False)
    assert [row["lr"] for row in run.metrics()] == pytest.approx([row["lr"] for row in annealed.metrics()])


# -- ppo.anneal_over = "time": the decay runs over train.max_minutes of wall time -------
LIMIT_S = 3.0


def _timed_cfg():
    return _cfg(True, ppo__anneal_over="time", train__max_minutes=LIMIT_S / 60, train__total_steps=PER_UPDATE * 100_000,
                train__save_step=PER_UPDATE * 1000)


def _lr_follows_the_clock(rows):
    """Each update's lr is lr0 * (1 - t / limit), t = the wall time (all sessions) when its learning began."""
    for row in rows:
        began = row["wall_time"] - row["learn_time"]  # both rounded: 0.5 ms + 0.05 ms at most
        assert row["lr"] == pytest.approx(1e-3 * max(0.0, 1 - began / LIMIT_S), abs=1e-3 * 1e-3 / LIMIT_S), row


def test_lr_decays_over_the_time_budget(tmp_path):
    rows = train(_timed_cfg(), tmp_path / "run", progress=False).metrics()
    assert len(rows) >= 2 and rows[-1]["wall_time"] >= LIMIT_S  # stopped by the clock, not by total_steps
    _lr_follows_the_clock(rows)
    lrs = [row["lr"] for row in rows]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < lrs[0]


def test_resumed_run_continues_the_time_decay(tmp_path):
    """The wall time of the first session counts: a resumed run does not restart the decay."""
    train(_timed_cfg(), tmp_path / "cut", progress=False, on_update=lambda row: row["update"] >= 3)
    rows = resume(tmp_path / "cut", progress=False).metrics()
    assert len(rows) > 3
    _lr_follows_the_clock(rows)
    lrs = [row["lr"] for row in rows]
    assert lrs == sorted(lrs, reverse=True)
