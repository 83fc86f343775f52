"""The linear learning-rate decay (ppo.anneal_lr) that configs/cpu-30min.toml relies on."""

from __future__ import annotations

import pytest

from rlsight.runs.checkpoint import load_json
from rlsight.training import resume, train
from tests.conftest import tiny_config

UPDATES = 4

pytestmark = pytest.mark.procgen  # every test here steps real Procgen games


def _cfg(anneal: bool):
    small = dict(env__num_envs=4, env__num_test_envs=0, ppo__num_steps=16, ppo__batch_size=32)  # 64 steps per update
    per_update = 4 * 16
    return tiny_config(**small, ppo__anneal_lr=anneal, ppo__lr=1e-3, train__total_steps=per_update * UPDATES,
                       train__save_step=per_update)


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
