"""Synthetic ``train_fn``s for the sweep tests: they write real run directories
with made-up metrics in milliseconds, so that pruning and failure handling can be
tested on trials whose quality is known in advance."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

STEPS_PER_UPDATE = 256


def train(cfg, run_dir: Path, on_update) -> None:
    """test_return climbs linearly to log10(ppo.lr) + 9 (lr 1e-8 -> 1, 1e-2 -> 7);
    ppo.entropy_coef = 0.5 raises, as a crashing trial."""
    from rlsight.runs import RunDir
    from rlsight.runs.rundir import is_run_dir

    if cfg.ppo.entropy_coef == 0.5:
        raise RuntimeError("synthetic crash for entropy_coef = 0.5")
    if is_run_dir(run_dir):
        if RunDir.open(run_dir).info()["status"] == "finished":
            return
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    run = RunDir.create(run_dir, cfg)
    quality = math.log10(cfg.ppo.lr) + 9
    n = cfg.train.total_steps // STEPS_PER_UPDATE
    for u in range(1, n + 1):
        ret = quality * u / n
        row = {"update": u, "step": u * STEPS_PER_UPDATE, "test_return": ret, "train_return": ret,
               "test_reward_rate": ret}
        run.append_metrics(row)
        if on_update(row):
            run.update_info(status="interrupted")
            return
    run.update_info(status="finished", steps=n * STEPS_PER_UPDATE)
