"""Synthetic ``train_fn``s for the sweep tests: they write real run directories
with made-up metrics in milliseconds, so that pruning and failure handling can be
tested on trials whose quality is known in advance."""

from __future__ import annotations

import math
import os
import shutil
import signal
import time
import uuid
from pathlib import Path

STEPS_PER_UPDATE = 256
# for the sweep-driver kill test: seconds to sleep per update; a file that gets a line
# "TOKEN RUN_DIR" after each training that ran to completion; the learning rate (repr)
# whose completed training SIGKILLs the sweep driver between its "finished" and that line
DELAY_ENV, LOG_ENV, KILL_DRIVER_ENV = "RLSIGHT_FAKE_DELAY", "RLSIGHT_FAKE_LOG", "RLSIGHT_FAKE_KILL_DRIVER"
# a file in each run folder naming the training that made it (a random token)
TOKEN = "fake-token"


def train(cfg, run_dir: Path, on_update) -> None:
    """test_return climbs linearly to log10(ppo.lr) + 9 (lr 1e-8 -> 1, 1e-2 -> 7);
    ppo.entropy_coef = 0.5 raises, as a crashing trial. ``RLSIGHT_FAKE_DELAY`` slows each
    update; ``RLSIGHT_FAKE_LOG`` names a file that gets a line per finished training.

    A training is complete when its run folder is marked finished: one atomic rename
    (``RunDir.update_info``). A finished run is never trained again."""
    from rlsight.runs import RunDir
    from rlsight.runs.atomic import atomic_write_text
    from rlsight.runs.rundir import is_run_dir

    if cfg.ppo.entropy_coef == 0.5:
        raise RuntimeError("synthetic crash for entropy_coef = 0.5")
    if is_run_dir(run_dir):
        if RunDir.open(run_dir).info()["status"] == "finished":
            return
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    run = RunDir.create(run_dir, cfg)
    token = uuid.uuid4().hex
    atomic_write_text(run_dir / TOKEN, token)  # before "finished": a finished run always has its token
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
    run.update_info(status="finished", steps=n * STEPS_PER_UPDATE)  # the completion
    if os.environ.get(KILL_DRIVER_ENV) == repr(cfg.ppo.lr):  # the window between the completion and the log line
        os.kill(os.getppid(), signal.SIGKILL)  # the sweep driver; it takes this worker with it (PR_SET_PDEATHSIG)
        time.sleep(60)
        raise AssertionError("the worker outlived its sweep driver")
    if os.environ.get(LOG_ENV):
        with open(os.environ[LOG_ENV], "a") as f:
            f.write(f"{token} {run_dir}\n")


def train_requeue_fails(cfg, run_dir: Path, on_update) -> None:
    """A SLURM job being pre-empted whose ``scontrol requeue`` fails inside submitit's
    handler: the handler has marked the pre-emption, then an exception reaches the trial."""
    import subprocess

    from rlsight.sweep.trial import preempted

    preempted.set()
    raise subprocess.CalledProcessError(1, ["scontrol", "requeue", "42"], stderr="slurm_requeue error")
