"""One episode of a model, recorded for the explorer: what it saw and did, and the
per-step quantities the timelines show (value, chosen-action probability, policy
entropy, reward, GAE advantage)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rlsight.config import EnvConfig
from rlsight.explain.saliency.record import level_env, policy_outputs
from rlsight.models.sampling import sample_actions
from rlsight.ppo.gae import compute_gae


@dataclass
class Episode:
    """obs (T, 64, 64, 3) uint8, actions (T,), probs (T, A), values (T,), rewards (T,),
    ``done`` (whether the episode ended within T steps) and ``next_obs`` (the observation
    after the last step, for the bootstrap value when it did not)."""

    obs: np.ndarray
    actions: np.ndarray
    probs: np.ndarray
    values: np.ndarray
    rewards: np.ndarray
    done: bool
    next_obs: np.ndarray


def play_episode(model: torch.nn.Module, env_cfg: EnvConfig, game: str, level: int, seed: int,
                 max_steps: int, stop_at_end: bool = True) -> Episode:
    """Play one episode of ``game`` level ``level`` (environment seed ``seed``), at most
    ``max_steps`` steps, sampling actions from the policy with a generator seeded ``seed``.
    ``stop_at_end=False`` plays on through episode ends (the level restarts) for exactly
    ``max_steps`` steps (benchmarks); ``done`` then says whether the last step ended one."""
    from rlsight.envs import make_env

    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    env = make_env(level_env(env_cfg, game, level), "train", 1, seed=seed)
    rec: dict[str, list] = {k: [] for k in ("obs", "actions", "probs", "values", "rewards")}
    done = False
    try:
        _, obs, _ = env.observe()
        for _ in range(max_steps):
            with torch.inference_mode():
                logits, value = model(torch.from_numpy(obs).to(device))
            a = sample_actions(logits.float(), generator=gen)
            rec["obs"].append(obs[0].copy())
            rec["actions"].append(int(a[0]))
            rec["probs"].append(torch.softmax(logits.float(), -1)[0].cpu().numpy())
            rec["values"].append(float(value[0]))
            reward, obs, first = env.step(a.cpu().numpy())
            rec["rewards"].append(float(reward[0]))
            done = bool(first[0])
            if done and stop_at_end:
                break
    finally:
        env.close()
    out = {k: np.asarray(v) for k, v in rec.items()}
    return Episode(out["obs"], out["actions"].astype(np.int64), out["probs"].astype(np.float32),
                   out["values"].astype(np.float32), out["rewards"].astype(np.float32), done, obs[0].copy())


def replay(model: torch.nn.Module, ep: Episode) -> Episode:
    """``ep`` as ``model`` sees it: the same frames, actions and rewards, with ``model``'s
    probabilities and values (for two models on the first one's frames)."""
    probs, values = policy_outputs(model, np.concatenate([ep.obs, ep.next_obs[None]]))
    return Episode(ep.obs, ep.actions, probs[:-1].astype(np.float32), values[:-1].astype(np.float32),
                   ep.rewards, ep.done, ep.next_obs)


def bootstrap_value(model: torch.nn.Module, ep: Episode) -> float:
    """The value after the last step: 0 when the episode ended, else the model's value of ``next_obs``."""
    if ep.done:
        return 0.0
    _, v = policy_outputs(model, ep.next_obs[None])
    return float(v[0])


def timelines(ep: Episode, gamma: float, lam: float, last_value: float) -> dict[str, np.ndarray]:
    """Per step: value, chosen-action probability, policy entropy (nats), reward and the
    GAE(gamma, lambda) advantage, the episode's end (or ``last_value``) as bootstrap."""
    t = len(ep.actions)
    dones = np.zeros(t, np.float32)
    if ep.done:
        dones[-1] = 1.0
    adv, _ = compute_gae(torch.from_numpy(ep.rewards)[:, None], torch.from_numpy(ep.values)[:, None],
                         torch.from_numpy(dones)[:, None], torch.tensor([last_value], dtype=torch.float32),
                         gamma, lam)
    p = ep.probs.astype(np.float64)
    entropy = -(p * np.log(np.clip(p, 1e-12, None))).sum(1)
    return {"value": ep.values.astype(np.float64), "prob": p[np.arange(t), ep.actions],
            "entropy": entropy, "reward": ep.rewards.astype(np.float64),
            "advantage": adv[:, 0].double().numpy()}


def bookmarks(advantage: np.ndarray, n: int = 8) -> list[int]:
    """The steps of the ``n`` largest |advantage| values, in step order."""
    a = np.abs(np.asarray(advantage, dtype=np.float64))
    top = np.argsort(-a, kind="stable")[:n]
    return sorted(int(i) for i in top)
