"""Synthetic run directories for the compare and report tests (written in the documented format)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlsight.runs import RunDir
from tests.conftest import tiny_config

UPDATES = 30


def write_run(path: Path, seed: int = 0, lr: float = 5e-4, epochs: int = 2, offset: float = 0.0,
              game: str = "starpilot", reward_rate_only: bool = False, updates: int = UPDATES, **config) -> Path:
    """A finished run directory with made-up but plausible metrics (fast, no training);
    ``config``: more keys of the tiny config (``env__num_levels=200``)."""
    cfg = tiny_config(train__seed=seed, ppo__lr=lr, ppo__num_epochs=epochs, env__game=game, **config)
    run = RunDir.create(path, cfg)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(updates):
        step = (i + 1) * 256
        if reward_rate_only:
            rows.append({"update": i + 1, "step": step, "train_reward_rate": 2 + 0.1 * i + rng.normal()})
            continue
        train = 3 + offset + 0.2 * i + rng.normal(0, 0.5)
        rows.append({
            "update": i + 1, "step": step, "wall_time": 1.5 * (i + 1), "sps": 256 / 1.5,
            "train_return": train, "test_return": train - 1 - rng.random(), "policy_loss": rng.normal(0, 0.01),
            "value_loss": 1 / (i + 1), "entropy": 2.7 - 0.01 * i, "lr": lr,
        })
    run.write_metrics(rows)
    run.update_info(status="finished", steps=updates * 256)
    return path
