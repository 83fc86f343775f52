"""The linear learning-rate decay (ppo.anneal_lr) that configs/cpu-30min.toml relies on."""

from __future__ import annotations

import json

import pytest

from rlsight.training import resume, train
from tests.conftest import tiny_config

UPDATES = 4
PER_UPDATE = 8 * 32  # tiny_config: 8 envs x 32 steps


def _cfg(anneal: bool):
    return tiny_config(ppo__anneal_lr=anneal, ppo__lr=1e-3, train__total_steps=PER_UPDATE * UPDATES,
                       train__save_step=PER_UPDATE)


def test_lr_decays_linearly_to_zero_over_the_run(tmp_path):
    run = train(_cfg(True), tmp_path / "run", progress=False)
    lrs = [row["lr"] for row in run.metrics()]
    assert lrs == pytest.approx([1e-3 * (1 - u / UPDATES) for u in range(UPDATES)])
    # The optimizer itself ran at the last of them (its state is in the final checkpoint).
    meta = json.loads((run.latest_checkpoint() / "meta.json").read_text())
    assert meta["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3 / UPDATES)


def test_constant_lr_without_anneal(tmp_path):
    run = train(_cfg(False), tmp_path / "run", progress=False)
    assert [row["lr"] for row in run.metrics()] == pytest.approx([1e-3] * UPDATES)


def test_resumed_run_continues_the_schedule(tmp_path):
    ref = [row["lr"] for row in train(_cfg(True), tmp_path / "ref", progress=False).metrics()]
    # Stop after the second update (a checkpoint is written on stopping), then resume.
    train(_cfg(True), tmp_path / "cut", progress=False, on_update=lambda row: row["update"] >= 2)
    run = resume(tmp_path / "cut", progress=False)
    assert [row["lr"] for row in run.metrics()] == pytest.approx(ref)
