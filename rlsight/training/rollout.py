"""Collecting rollouts: the network acts, the environments step, the buffers fill.

One forward pass per step chooses the actions of the training and the held-out
environments together; then every environment steps (act, observe).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np
import torch

from rlsight.config import Config
from rlsight.envs import EpisodeTracker, episode_stats
from rlsight.models.sampling import sample_with_log_prob
from rlsight.ppo import Batch, RewardNormalizer, compute_gae
from rlsight.ppo.precision import autocast_context

TEST_SEED_OFFSET = 1_000_003  # the held-out envs' RNG stream differs from the training envs'


class RolloutCollector:
    """The training and held-out environments, their reward normaliser and episode
    trackers, and the loop that fills one rollout's buffers.

    The held-out environments act from the same forward pass as the training
    environments, and nothing of theirs is learned from. ``env_factory(cfg.env,
    split, num_envs, seed)`` makes the vector environments (``rlsight.envs.make_env``).
    """

    def __init__(self, cfg: Config, model: torch.nn.Module, device: torch.device, env_factory, seed: int):
        self.cfg, self.model, self.device = cfg, model, device
        e = cfg.env
        self.num_envs = e.num_envs
        self.env = env_factory(e, "train", e.num_envs, seed)
        self.test_env = env_factory(e, "test", e.num_test_envs, seed + TEST_SEED_OFFSET) if e.num_test_envs > 0 else None
        self.normalizer = RewardNormalizer(e.num_envs, cfg.ppo.gamma, cfg.ppo.reward_clip)
        self.tracker = EpisodeTracker(e.num_envs)
        self.test_tracker = EpisodeTracker(max(e.num_test_envs, 1))
        self._obs: np.ndarray | None = None
        self._tobs: np.ndarray | None = None

    # -- environment state ------------------------------------------------------------
    def get_state(self) -> dict[str, list[bytes]]:
        """Every environment's state (``train`` and, with held-out envs, ``test``), for a checkpoint."""
        out = {"train": self.env.get_state()}
        if self.test_env is not None:
            out["test"] = self.test_env.get_state()
        return out

    def set_state(self, states: dict[str, list[bytes]]) -> None:
        """Restore what ``get_state`` returned."""
        self.env.set_state(states["train"])
        if self.test_env is not None:
            self.test_env.set_state(states["test"])

    def start(self) -> None:
        """Read the current observations (after construction or ``set_state``)."""
        self._obs = self.env.observe()[1]
        self._tobs = self.test_env.observe()[1] if self.test_env is not None else None

    def close(self) -> None:
        """Close the environments."""
        self.env.close()
        if self.test_env is not None:
            self.test_env.close()

    # -- acting -------------------------------------------------------------------------
    def act(self, obs_np: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(observations on the device, sampled actions, their log-probabilities, values)."""
        x = torch.from_numpy(obs_np).to(self.device)
        # the model (an ActorCritic, possibly compiled) has a static ``preprocess``: frames -> float NCHW
        preprocess = cast(Callable[[torch.Tensor], torch.Tensor], self.model.preprocess)
        with torch.no_grad(), autocast_context(self.device, self.cfg.train.autocast):
            logits, values = self.model(preprocess(x))
        with torch.no_grad():
            actions, logp = sample_with_log_prob(logits.float())
            return x, actions, logp, values.float()

    # -- one rollout ----------------------------------------------------------------
    def collect(self) -> dict:
        """Step every environment ``ppo.num_steps`` times; returns the batch to learn
        from (advantages and returns computed) and the rollout's reward rates."""
        c = self.cfg
        T, N = c.ppo.num_steps, self.num_envs
        dev = self.device
        assert self._obs is not None, "call start() before collect()"
        shape = self._obs.shape[1:]
        self._buf_obs = torch.zeros((T, N, *shape), dtype=torch.uint8, device=dev)
        self._buf = {k: torch.zeros((T, N), device=dev) for k in ("actions", "logp", "values")}
        self._rewards = np.zeros((T, N), np.float32)  # filled on the host, copied to the device once
        self._dones = np.zeros((T, N), np.float32)
        self._raw_sum = self._test_raw_sum = 0.0
        for t in range(T):
            self._act(t)
            self._observe_and_record(t)
        assert self._obs is not None  # _observe_and_record sets it from observe()
        last_value = self.act(self._obs)[3]
        # GAE is a loop over the rollout's steps: on the host it costs no kernel launches
        values = self._buf["values"].cpu()
        adv, ret = compute_gae(torch.from_numpy(self._rewards), values, torch.from_numpy(self._dones),
                               last_value.cpu(), c.ppo.gamma, c.ppo.gae_lambda)
        adv, ret = adv.to(dev), ret.to(dev)
        b = self._buf
        scale = 256.0 / T  # the original project's metric: summed mean reward per 256 steps
        return {
            "batch": Batch(self._buf_obs.reshape(T * N, *shape), b["actions"].reshape(-1).long(),
                           b["logp"].reshape(-1), b["values"].reshape(-1), ret.reshape(-1), adv.reshape(-1)),
            "train_reward_rate": self._raw_sum * scale,
            "test_reward_rate": self._test_raw_sum * scale if self.test_env is not None else float("nan"),
        }

    def _act(self, t: int) -> None:
        """Choose step t's actions for the training and held-out envs, send them, store the choices."""
        n = self.num_envs
        assert self._obs is not None and (self.test_env is None or self._tobs is not None)  # set by start()
        obs = np.concatenate([self._obs, self._tobs]) if self.test_env is not None else self._obs
        x, actions, logp, values = self.act(obs)
        a_np = actions.cpu().numpy()
        self.env.act(a_np[:n])
        if self.test_env is not None:
            self.test_env.act(a_np[n:])
        self._buf_obs[t] = x[:n]
        self._buf["actions"][t] = actions[:n].float()
        self._buf["logp"][t] = logp[:n]
        self._buf["values"][t] = values[:n]

    def _observe_and_record(self, t: int) -> None:
        """Wait for step t, then book its rewards and episode ends."""
        c = self.cfg
        rew, self._obs, first = self.env.observe()
        died = None
        if c.env.penalize_on_death and first.any():  # info belongs to this step: read it now
            died = np.array([f and not inf.get("prev_level_complete", 0) for f, inf in zip(first, self.env.info())])
        if self.test_env is not None:
            trew, self._tobs, tfirst = self.test_env.observe()
            trew, tend = episode_stats(self.test_env, trew, tfirst)
            self.test_tracker.update(trew, tend)
            self._test_raw_sum += float(trew.mean())
        score, ended = episode_stats(self.env, rew, first)  # Atari: the unclipped score, whole games
        self.tracker.update(score, ended)
        self._raw_sum += float(score.mean())
        train_rew = rew
        if died is not None:
            train_rew = rew - c.env.death_penalty * died
        if c.ppo.normalize_reward:
            train_rew = self.normalizer(train_rew, first)
        self._rewards[t] = train_rew
        self._dones[t] = first
