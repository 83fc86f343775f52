"""Synthetic ``train_fn``s for the sweep tests: they write real run directories
with made-up metrics in milliseconds, so that pruning and failure handling can be
tested on trials whose quality is known in advance."""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path

STEPS_PER_UPDATE = 256
# for the sweep-driver kill test: seconds to sleep per update, and a file that gets one
# line per training that ran to completion
DELAY_ENV, LOG_ENV = "RLSIGHT_FAKE_DELAY", "RLSIGHT_FAKE_LOG"


def train(cfg, run_dir: Path, on_update) -> None:
    """test_return climbs linearly to log10(ppo.lr) + 9 (lr 1e-8 -> 1, 1e-2 -> 7);
    ppo.entropy_coef = 0.5 raises, as a crashing trial. ``RLSIGHT_FAKE_DELAY`` slows each
    update; ``RLSIGHT_FAKE_LOG`` names a file that gets a line per finished training."""
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
        time.sleep(float(os.environ.get(DELAY_ENV, "0")))
        run.append_metrics(row)
        if on_update(row):
            run.update_info(status="interrupted")
            return
    run.update_info(status="finished", steps=n * STEPS_PER_UPDATE)
    if os.environ.get(LOG_ENV):
        with open(os.environ[LOG_ENV], "a") as f:
            f.write(f"{cfg.ppo.lr!r} {cfg.ppo.entropy_coef!r} {run_dir}\n")
