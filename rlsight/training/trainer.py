"""The training loop: collect a rollout, update, log, checkpoint, resume.

The PPO maths lives in ``rlsight.ppo``; this module only orchestrates.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from rlsight.config import Config, ConfigError
from rlsight.envs import family_of, make_env
from rlsight.errors import DiskFullError, RlsightError
from rlsight.hardware import keep_freed_memory, resolve_device
from rlsight.ppo import Batch, ppo_update
from rlsight.ppo.ppg import aux_phase
from rlsight.runs import RunDir
from rlsight.runs.atomic import DISK_FULL, disk_full_message
from rlsight.runs.checkpoint import save_json, save_tensors
from rlsight.runs.load import build_model_for
from rlsight.runs.lock import RunLock
from rlsight.runs.rundir import MODEL, MODEL_META, PROGRESS_PLOT
from rlsight.runs.trackers import Trackers, check_installed
from rlsight.training.progress import ProgressBar, plot_progress
from rlsight.training.rollout import RolloutCollector
from rlsight.training.state import load_training_state, save_training_state

# Update chunk sizes that CPU caches favour, per encoder (measured on a 2-core Xeon with
# torch 2.13: IMPALA fwd+bwd 634 samples/s in chunks of 64 vs 434 in one pass of 1024;
# Nature-DQN 5,752 in chunks of 256 vs 4,749 in chunks of 64). Inference over all
# environments at once was as fast as or faster than chunks for both, so it is not chunked.
CPU_UPDATE_CHUNK = {"impala": 64, "nature": 256}
CPU_UPDATE_CHUNK_OTHER = 64


def update_chunk_size(cfg: Config, device: torch.device) -> int:
    """``train.update_chunk`` with 0 resolved for the device; 0 out = no chunking."""
    upd = cfg.train.update_chunk
    if device.type == "cpu" and not upd:
        upd = CPU_UPDATE_CHUNK.get(cfg.model.encoder, CPU_UPDATE_CHUNK_OTHER)
    return upd


# Encoders whose update runs faster with its chunks spread over the cores, one thread
# each, than with every operation split over the cores (same machine: IMPALA, chunks
# of 64, 1,114-1,156 vs 1,016-1,044 samples/s; Nature-DQN no faster with minibatches
# of 2,048 and 5% slower with minibatches of 512, so its operations keep both cores).
CPU_SPLIT_ENCODERS = {"impala"}


def update_workers(cfg: Config, device: torch.device) -> int:
    """Threads that share the update's chunks: on CPU one per torch thread for the
    encoders in ``CPU_SPLIT_ENCODERS`` (not with a compiled network), otherwise one."""
    if device.type == "cpu" and cfg.model.encoder in CPU_SPLIT_ENCODERS and cfg.train.compile == "off":
        return torch.get_num_threads()
    return 1


def make_optimizer(model: torch.nn.Module, cfg: Config, device: torch.device) -> torch.optim.Adam:
    """Adam as the config says; on a GPU its fused kernel (one launch for all parameters)."""
    return torch.optim.Adam(model.parameters(), lr=cfg.ppo.lr, eps=cfg.ppo.adam_eps, fused=device.type == "cuda")


class Trainer:
    """Trains one run directory. ``Trainer(cfg, run).train()``; a resumed run
    continues from its newest checkpoint."""

    def __init__(self, cfg: Config, run: RunDir, *, progress: bool = True, compare_to: RunDir | None = None,
                 env_factory=None, on_update: Callable[[dict], bool | None] | None = None, lock_wait_s: float = 0.0,
                 stop_signals: tuple[int, ...] = (signal.SIGINT,)):
        self.cfg, self.run, self.progress, self.compare_to = cfg, run, progress, compare_to
        # signals that stop training at the end of the current update, with a checkpoint. The API
        # default is SIGINT only, so that a caller's own handlers (submitit's SIGTERM/USR2 in a
        # SLURM sweep) stay in charge; `rlsight train` adds SIGTERM and --signal (docs/run-directory.md).
        self.stop_signals = stop_signals
        self.stopped_by: int | None = None  # the signal that stopped training, if one did
        self.lock_wait_s = lock_wait_s  # how long to wait for another process's lock on the run
        self.env_factory = env_factory or make_env
        self.on_update = on_update  # gets each metrics row; returning True stops like Ctrl-C (checkpoint, "interrupted")
        self._stop = False

    # -- set-up -----------------------------------------------------------------
    def _setup(self) -> None:
        c = self.cfg
        torch.manual_seed(c.train.seed)
        np.random.seed(c.train.seed)
        torch.set_num_threads(c.train.torch_threads or os.cpu_count() or 1)
        self.device = resolve_device(c.train.device)
        if self.device.type == "cpu":
            keep_freed_memory()  # fewer page faults in the update; results unchanged
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # the shapes repeat: time the convolution algorithms once
        self.update_chunk = update_chunk_size(c, self.device)
        self.update_workers = update_workers(c, self.device)
        self.model = build_model_for(c).to(self.device)
        self.optimizer = make_optimizer(self.model, c, self.device)
        # the network as it computes; self.model (same parameters) is what checkpoints save
        self.net: nn.Module = (self.model if c.train.compile == "off"  # compiling a Module gives a Module
                               else cast(nn.Module, torch.compile(self.model, mode=c.train.compile)))
        self.collector = RolloutCollector(c, self.net, self.device, self.env_factory, c.train.seed)
        self.batch_per_update = c.env.num_envs * c.ppo.num_steps
        self.num_updates = math.ceil(c.train.total_steps / self.batch_per_update)
        self.update = 0
        self.step = 0
        self.ppg_buffer: list[tuple[torch.Tensor, torch.Tensor]] = []  # PPG: (frames, value targets) per rollout
        self.wall_offset = 0.0
        self.rows: list[dict] = []

    def _restore(self) -> None:
        ck = self.run.latest_checkpoint()
        if ck is None:
            return
        meta, envs, extra = load_training_state(ck, self.model, self.optimizer)
        if meta.get("config_hash") != self.cfg.hash():
            raise RlsightError(f"{ck}: checkpoint was written with another config (hash {meta.get('config_hash')})")
        self.update, self.step, self.wall_offset = meta["update"], meta["step"], meta["wall_time"]
        self.collector.normalizer.load_state_dict(meta["normalizer"])
        self.collector.tracker.load_state_dict(meta["tracker"])
        self.collector.test_tracker.load_state_dict(meta["test_tracker"])
        self.collector.set_state(envs)
        n = meta.get("ppg_rollouts", 0)
        self.ppg_buffer = [(extra[f"ppg.obs.{i}"].to(self.device), extra[f"ppg.returns.{i}"].to(self.device))
                           for i in range(n)]

    # -- the loop -----------------------------------------------------------------
    def train(self) -> RunDir:
        """Train under the run's lock (one writer per run directory; rlsight/runs/lock.py).
        A full disk stops training with one line; the newest checkpoint stays loadable."""
        with RunLock(self.run.path, self.lock_wait_s):
            self.run.remove_temporaries()  # left by a killed writer; safe only under the lock
            try:
                return self._train()
            except (DiskFullError, OSError) as e:
                if isinstance(e, OSError) and e.errno not in DISK_FULL:  # e.g. from TensorBoard's writer
                    raise
                what = str(e) if isinstance(e, DiskFullError) else disk_full_message(self.run.path)
                raise DiskFullError(f"{what}. Training stopped at update {getattr(self, 'update', 0)}; after freeing "
                                    f"space, `rlsight train --resume {self.run.path}` continues from the newest "
                                    "checkpoint") from None

    def _train(self) -> RunDir:
        self._setup()
        self._restore()
        self.run.truncate_metrics(self.update)  # drop rows written after the checkpoint we resume from
        self.rows = self.run.metrics()
        # hide TensorBoard events logged after the checkpoint (steps > self.step; the checkpoint's own row stays)
        self.trackers = Trackers(self.run.path, self.cfg, purge_step=self.step + 1)
        outcome = "failed"  # what the trackers are told when they close
        compare_rows = self.compare_to.metrics() if self.compare_to else None
        self.run.update_info(status="running")
        bar = ProgressBar(self.num_updates * self.batch_per_update, self.step, self.progress)
        old_handlers = {s: signal.signal(s, self._on_signal) for s in self.stop_signals} if _main_thread() else {}
        start = time.perf_counter() - self.wall_offset
        last_plot = 0.0
        save_every = self.cfg.train.save_step
        try:
            self.collector.start()
            done = False
            while not done and self.update < self.num_updates and not self._stop:
                t0 = time.perf_counter()
                roll = self.collector.collect()
                t1 = time.perf_counter()
                stats = self._learn(roll, elapsed=t1 - start)  # returns after reading its statistics, so the device is done
                self.update += 1
                self.step += self.batch_per_update
                now = time.perf_counter()
                stats.update(rollout_time=round(t1 - t0, 4), learn_time=round(now - t1, 4))
                row = self._row(stats, roll, self.batch_per_update / max(now - t0, 1e-9), now - start)
                self.rows.append(row)
                self.run.append_metrics(row)
                if self.on_update is not None and self.on_update(row):
                    self._stop = True
                self.trackers.metrics(row)
                bar.update(self.batch_per_update, row)
                limit = self.cfg.train.max_minutes
                done = self.update >= self.num_updates or (limit > 0 and now - start >= limit * 60)
                if self.step // save_every > (self.step - self.batch_per_update) // save_every or done or self._stop:
                    self._checkpoint(now - start)
                if done or self._stop or (self.update % self.cfg.train.log_interval == 0 and now - last_plot > 30):
                    plot_progress(self.run.path / PROGRESS_PLOT, self.rows, self.run.name, compare_rows,
                                  self.compare_to.name if self.compare_to else "")
                    last_plot = now
            outcome = "interrupted" if self._stop else "finished"
        finally:
            bar.close()
            self.trackers.close(outcome)
            for signum, old in old_handlers.items():
                signal.signal(signum, old)
            self.collector.close()
        if self._stop:
            self.run.update_info(status="interrupted")
        else:
            self._save_final()
        return self.run

    def _on_signal(self, signum, frame) -> None:
        if self._stop:
            raise KeyboardInterrupt
        self._stop = True
        self.stopped_by = signum
        name = signal.Signals(signum).name
        again = "Ctrl-C" if signum == signal.SIGINT else name
        print(f"\n{name}: finishing this update and saving a checkpoint ({again} again to abort)", flush=True)

    # -- pieces ---------------------------------------------------------------------
    def _lr_fraction(self, elapsed: float) -> float:
        """The linear decay's remaining fraction: of the updates, or of train.max_minutes
        (ppo.anneal_over = "time"; ``elapsed`` counts the wall time of earlier sessions too)."""
        if self.cfg.ppo.anneal_over == "time":
            return max(0.0, 1.0 - elapsed / (self.cfg.train.max_minutes * 60))
        return 1.0 - self.update / self.num_updates

    def _learn(self, roll: dict, elapsed: float) -> dict:
        c = self.cfg
        lr = c.ppo.lr * self._lr_fraction(elapsed) if c.ppo.anneal_lr else c.ppo.lr
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        b: Batch = roll["batch"]
        stats = ppo_update(self.net, self.optimizer, b, c.ppo, chunk=self.update_chunk,
                           workers=self.update_workers, autocast=c.train.autocast)
        var = torch.var(b.returns)
        stats["explained_variance"] = float("nan") if var == 0 else float(1 - torch.var(b.returns - b.values) / var)
        stats["lr"] = lr
        n_pi = c.ppo.ppg_policy_phases
        if n_pi:  # PPG: keep the rollout; after every n_pi-th update, the auxiliary phase over those kept
            self.ppg_buffer.append((b.obs, b.returns))
            if (self.update + 1) % n_pi == 0:
                obs, ret = torch.cat([o for o, _ in self.ppg_buffer]), torch.cat([r for _, r in self.ppg_buffer])
                self.ppg_buffer = []
                stats.update(aux_phase(self.model, self.optimizer, obs, ret, c.ppo, chunk=self.update_chunk,
                                       autocast=c.train.autocast))
        return stats

    def _row(self, stats: dict, roll: dict, sps: float, wall: float) -> dict:
        has_test = self.collector.test_env is not None
        tracker, test_tracker = self.collector.tracker, self.collector.test_tracker
        return {
            "update": self.update, "step": self.step, "wall_time": round(wall, 3), "sps": round(sps, 1),
            "train_return": tracker.mean_return(),
            "test_return": test_tracker.mean_return() if has_test else float("nan"),
            "train_length": tracker.mean_length(),
            "test_length": test_tracker.mean_length() if has_test else float("nan"),
            "train_reward_rate": roll["train_reward_rate"], "test_reward_rate": roll["test_reward_rate"],
            "train_episodes": len(tracker.drain()), "test_episodes": len(test_tracker.drain()) if has_test else 0,
            **stats,
        }

    def _checkpoint(self, wall: float) -> None:
        meta = {
            "update": self.update, "step": self.step, "wall_time": wall, "config_hash": self.cfg.hash(),
            "normalizer": self.collector.normalizer.state_dict(), "tracker": self.collector.tracker.state_dict(),
            "test_tracker": self.collector.test_tracker.state_dict(),
        }
        extra = {}
        if self.ppg_buffer:  # PPG's rollouts kept since the last auxiliary phase
            meta["ppg_rollouts"] = len(self.ppg_buffer)
            for i, (obs, ret) in enumerate(self.ppg_buffer):
                extra[f"ppg.obs.{i}"], extra[f"ppg.returns.{i}"] = obs.cpu(), ret.cpu()
        envs = self.collector.get_state()
        folder = self.run.checkpoint_dir() / f"step_{self.step:012d}"
        save_training_state(folder, model=self.model, optimizer=self.optimizer, meta=meta, env_states=envs,
                            extra=extra)
        keep = self.cfg.train.keep_checkpoints
        if keep:
            for old in self.run.checkpoints()[:-keep]:
                shutil.rmtree(old, ignore_errors=True)

    def _save_final(self) -> None:
        save_tensors(self.run.path / MODEL, self.model.state_dict(), {"step": self.step})
        save_json(self.run.path / MODEL_META, {
            "step": self.step, "update": self.update, "config_hash": self.cfg.hash(),
            "encoder": self.cfg.model.encoder, "game": self.cfg.env.game,
        })
        self.run.update_info(status="finished", steps=self.step)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def train(cfg: Config | str | Path, run_dir: str | Path, *, overwrite: bool = False, progress: bool = True,
          compare_to: str | Path | None = None, env_factory=None,
          on_update: Callable[[dict], bool | None] | None = None,
          stop_signals: tuple[int, ...] = (signal.SIGINT,)) -> RunDir:
    """Start a new run in ``run_dir`` and train it to the end (or until ``on_update`` returns True
    or one of ``stop_signals`` arrives: then with a checkpoint and status "interrupted").
    ``cfg``: a ``Config`` (``rlsight.load_config``), or a preset name or TOML file."""
    if isinstance(cfg, (str, Path)):
        from rlsight.config import load

        cfg = load(cfg)
    elif not isinstance(cfg, Config):
        raise ConfigError(f"train(cfg={type(cfg).__name__}): give a Config (rlsight.load_config(...)), "
                          "a preset name or a TOML file")
    check_installed(cfg.train.loggers)  # before anything is written
    cfg.check_trainable()
    cmp = RunDir.open(compare_to) if compare_to else None
    if env_factory is None:
        family_of(cfg.env).require()  # a missing backend is refused before the run directory is made
    run = RunDir.create(run_dir, cfg, overwrite=overwrite)
    if compare_to:
        run.update_info(compare_to=str(Path(compare_to).resolve()))
    return Trainer(cfg, run, progress=progress, compare_to=cmp, env_factory=env_factory, on_update=on_update,
                   stop_signals=stop_signals).train()


def resume(run_dir: str | Path, *, progress: bool = True, env_factory=None,
           on_update: Callable[[dict], bool | None] | None = None, lock_wait_s: float = 0.0,
           stop_signals: tuple[int, ...] = (signal.SIGINT,)) -> RunDir:
    """Continue a run from its newest checkpoint (``lock_wait_s``: how long to wait
    for another process that still trains into it; ``stop_signals`` as for ``train``)."""
    run = RunDir.open(run_dir)
    info = run.info()
    if info.get("status") == "finished":
        raise RlsightError(f"{run_dir}: run already finished at step {info.get('steps')}; nothing to resume")
    if info.get("kind") != "trained":
        raise RlsightError(f"{run_dir}: an {info.get('kind')} run cannot be resumed")
    cfg = run.config()
    check_installed(cfg.train.loggers)
    cmp = RunDir.open(info["compare_to"]) if info.get("compare_to") and Path(info["compare_to"]).exists() else None
    return Trainer(cfg, run, progress=progress, compare_to=cmp, env_factory=env_factory,
                   on_update=on_update, lock_wait_s=lock_wait_s, stop_signals=stop_signals).train()
