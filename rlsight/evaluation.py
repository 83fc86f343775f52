"""Unbiased episodic evaluation on the training or the held-out levels.

Every parallel environment contributes the same number of complete episodes,
counted from its first reset: stopping at the first N finished episodes across
environments would over-weight short episodes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from rlsight.config import Config
from rlsight.envs import EpisodeTracker, episode_stats, family_of, make_env, normalized_return
from rlsight.errors import RlsightError
from rlsight.hardware import reader_device
from rlsight.models.sampling import sample_actions
from rlsight.runs import RunDir
from rlsight.runs.load import load_policy
from rlsight.runs.trackers import check_installed, external_loggers, log_evaluation
from rlsight.shift import SUITES, apply_shift, generalisation_suite, setting_label

MAX_EVAL_ENVS = 64


class UniformPolicy(torch.nn.Module):
    """Uniformly random actions (equal logits) and a zero value: the floor a model's return
    is read against where no published one exists (``evaluate(..., random=True)``)."""

    def __init__(self, num_actions: int):
        super().__init__()
        self.num_actions = num_actions

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(equal logits (N, A), zero values (N,)) for a batch of observations."""
        n = obs.shape[0]
        return torch.zeros(n, self.num_actions), torch.zeros(n)


EPISODE_STEPS = 25_000  # step_limit's allowance per episode, at least


def eval_env_count(episodes: int, max_envs: int = MAX_EVAL_ENVS) -> int:
    """The largest divisor of ``episodes`` that is at most ``max_envs``."""
    return max(d for d in range(1, min(episodes, max_envs) + 1) if episodes % d == 0)


def run_episodes(model, env, episodes_per_env: int, greedy: bool = False, device: str = "cpu",
                 max_steps: int | None = None) -> np.ndarray:
    """Returns (num_envs, episodes_per_env) episodic returns: each env's first
    ``episodes_per_env`` complete episodes."""
    return run_episode_stats(model, env, episodes_per_env, greedy, device, max_steps)[0]


def step_limit(env, episodes_per_env: int) -> int:
    """How many steps an evaluation may take before it is called stuck: a safety net, not a
    cap on the games, above ``episodes_per_env`` of the env's longest episodes (an Atari
    env's ``max_episode_steps``; Procgen's games end on their own time-out, far below
    ``EPISODE_STEPS``)."""
    return episodes_per_env * max(EPISODE_STEPS, 2 * int(getattr(env, "max_episode_steps", 0)))


def run_episode_stats(model, env, episodes_per_env: int, greedy: bool = False, device: str = "cpu",
                      max_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(returns, lengths), each (num_envs, episodes_per_env): each env's first
    ``episodes_per_env`` complete episodes, within ``max_steps`` (default ``step_limit``)."""
    n = env.num_envs
    max_steps = step_limit(env, episodes_per_env) if max_steps is None else max_steps
    tracker = EpisodeTracker(n)
    got: list[list[tuple[float, int]]] = [[] for _ in range(n)]
    _, obs, _ = env.observe()
    for _ in range(max_steps):
        with torch.no_grad():
            logits, _ = model(torch.from_numpy(obs).to(device))
        actions = sample_actions(logits, greedy=greedy)
        rew, obs, first = env.step(actions.cpu().numpy())
        tracker.update(*episode_stats(env, rew, first))
        for i, ret, length in tracker.drain():
            if len(got[i]) < episodes_per_env:
                got[i].append((ret, length))
        if all(len(g) >= episodes_per_env for g in got):
            a = np.asarray(got, dtype=np.float64)
            return a[..., 0], a[..., 1].astype(np.int64)
    raise RlsightError(f"evaluation did not finish {episodes_per_env} episodes per env within {max_steps} steps")


def evaluate(run: str | Path | RunDir, split: str = "test", episodes: int = 256, seed: int = 0,
             greedy: bool = False, device: str = "cpu", save: bool = True, max_envs: int = MAX_EVAL_ENVS,
             env_set: list[str] | None = None, levels: tuple[int, int] | None = None, random: bool = False) -> dict:
    """Evaluate a run's model; returns (and by default saves) a result dict with
    mean_return, stderr, episodes, normalized_return, and the settings. A saved result
    also goes to the run's wandb/mlflow runs when its ``train.loggers`` has them.

    ``env_set`` (``["env.distribution_mode=hard"]``, the family's keys in
    ``rlsight.shift.SHIFT_KEYS``) and, for Procgen, ``levels`` ((start, count), replacing
    the split's levels) evaluate under distribution shift; the result's ``shift`` names
    what differs from the run's settings.

    ``random`` plays uniformly random actions instead of the run's model (no weights are
    read; the result has ``policy = "random"`` and step 0): the floor of a setting, e.g.
    an Atari flavour without published random and human scores.
    """
    if split not in ("train", "test"):
        raise RlsightError(f"--split {split!r}: valid: train, test")
    if episodes < 1:
        raise RlsightError(f"--episodes {episodes}: must be >= 1")
    if random and greedy:
        raise RlsightError("--random with --greedy: a uniform policy has no most likely action; give one of them")
    reader_device(device)
    run = run if isinstance(run, RunDir) else RunDir.open(run)
    torch.manual_seed(seed)
    if random:
        run_cfg, step = run.config(), 0
        model: torch.nn.Module = UniformPolicy(family_of(run_cfg.env).action_count(run_cfg.env.game))
    else:
        model, run_cfg, step = load_policy(run, device)
    if save:
        check_installed(external_loggers(run_cfg))  # the result also goes to the run's wandb/mlflow runs
    if split == "test" and levels is None:
        check_held_out(run_cfg, run.name)
    cfg, shift = apply_shift(run_cfg, env_set, levels, plays="test" if split == "test" and levels is None else "train")
    if levels is not None:
        split = "levels"  # apply_shift put START:COUNT in the training levels' slot
    n_envs = eval_env_count(episodes, max_envs)
    env = make_env(cfg.env, "train" if split == "levels" else split, n_envs, seed=seed)
    t0 = time.perf_counter()
    try:
        returns = run_episodes(model, env, episodes // n_envs, greedy=greedy, device=device)
    finally:
        env.close()
    flat = returns.reshape(-1)
    mean = float(flat.mean())
    stderr = float(flat.std(ddof=1) / math.sqrt(flat.size)) if flat.size > 1 else float("nan")
    norm = normalized_return(cfg.env, mean)
    result = {
        "run": run.name, "game": cfg.env.game, "split": split,
        "episodes": int(flat.size), "num_envs": n_envs, "episodes_per_env": episodes // n_envs,
        "seed": seed, "greedy": greedy, "step": step, "policy": "random" if random else "model",
        "mean_return": mean, "stderr": stderr, "normalized_return": norm,
        "min_return": float(flat.min()), "max_return": float(flat.max()),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if cfg.env.family == "procgen":  # which levels played
        played = cfg.env.test_levels() if split == "test" else (cfg.env.start_level, cfg.env.num_levels)
        result.update(distribution_mode=cfg.env.distribution_mode, start_level=played[0], num_levels=played[1])
    else:  # which flavour and protocol played (docs/environments.md); Atari has no levels
        e = cfg.env
        result.update(game_mode=e.game_mode, difficulty=e.difficulty)
        result["protocol"] = (f"Machado et al. 2018: sticky actions {e.sticky_actions}, whole games, unclipped score, "
                              f"{e.max_episode_frames}-frame cap" if split == "test" else
                              f"training: no-op starts, episodic life, clipped rewards, sticky actions {e.train_sticky_actions} "
                              "(statistics: whole games, score)")
    if shift:
        result.update(shift=shift, setting=setting_label(shift))
    if save:
        result["file"] = str(run.save_eval(result))
        log_evaluation(run.path, run_cfg, result)
    return result


def check_held_out(cfg: Config, name: str, what: str = "--split test") -> None:
    """Refuse held-out play (``what``: the option or command asking for it) for a run that
    trained on every level (``EnvConfig.nothing_held_out``)."""
    e = cfg.env
    if e.nothing_held_out():
        hint = "; use --split train" if what == "--split test" else ""
        raise RlsightError(f"{what}: {name} trained on every level (env.num_levels = 0), so none is held out{hint}")


def evaluate_suite(run: str | Path, suite: str = "generalisation", **kwargs) -> list[dict]:
    """Evaluate ``run`` on every entry of ``suite``; each result gains ``suite_entry``
    and ``gap`` (the training-level mean minus this mean)."""
    if suite not in SUITES:
        raise RlsightError(f"--suite {suite!r}: valid: {', '.join(SUITES)}")
    rd = run if isinstance(run, RunDir) else RunDir.open(run)
    check_held_out(rd.config(), rd.name)  # before the suite's first evaluation is played and saved
    results = []
    for entry in generalisation_suite(rd.config().env):
        r = evaluate(rd, split=entry.split, env_set=entry.env_set, **kwargs)
        r["suite_entry"] = entry.name
        results.append(r)
    train_mean = results[0]["mean_return"]
    for r in results:
        r["gap"] = train_mean - r["mean_return"]
    return results
