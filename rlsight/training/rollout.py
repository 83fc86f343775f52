"""Collecting rollouts: the network acts, the environments step, the buffers fill.

Procgen steps its environments on threads of its own once ``act`` returns, until
``observe`` waits for them. With ``train.env_groups`` > 1 the training
environments are split into groups that take turns, so the network computes one
group's actions while the others step (on a GPU, inference and stepping overlap
instead of alternating). With one group the order of every call, and so every
number, is that of a plain loop: act, step, observe.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.distributions import Categorical

from rlsight.config import Config
from rlsight.envs import EpisodeTracker
from rlsight.ppo import Batch, RewardNormalizer, compute_gae
from rlsight.ppo.precision import autocast_context

TEST_SEED_OFFSET = 1_000_003  # the held-out envs' RNG stream differs from the training envs'
GROUP_SEED_OFFSET = 7_919  # training group g's environments are seeded with seed + g * this


def group_sizes(num_envs: int, groups: int) -> list[int]:
    """Sizes of ``groups`` contiguous groups of ``num_envs`` environments, as equal as can be."""
    return [(g + 1) * num_envs // groups - g * num_envs // groups for g in range(groups)]


class RolloutCollector:
    """The training and held-out environments, their reward normaliser and episode
    trackers, and the loop that fills one rollout's buffers.

    The held-out environments ride along with the last training group: their
    actions come from the same forward pass, and nothing of theirs is learned from.
    """

    def __init__(self, cfg: Config, model: torch.nn.Module, device: torch.device, env_factory, seed: int,
                 inference_chunk: int = 0):
        self.cfg, self.model, self.device, self.inference_chunk = cfg, model, device, inference_chunk
        e = cfg.env
        self.sizes = group_sizes(e.num_envs, cfg.train.env_groups)
        starts = np.cumsum([0, *self.sizes])
        self.slices = [slice(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]
        self.envs = [env_factory(e, "train", n, seed + g * GROUP_SEED_OFFSET) for g, n in enumerate(self.sizes)]
        self.test_env = env_factory(e, "test", e.num_test_envs, seed + TEST_SEED_OFFSET) if e.num_test_envs > 0 else None
        self.normalizer = RewardNormalizer(e.num_envs, cfg.ppo.gamma, cfg.ppo.reward_clip)
        self.tracker = EpisodeTracker(e.num_envs)
        self.test_tracker = EpisodeTracker(max(e.num_test_envs, 1))
        self._obs: list[np.ndarray] = []
        self._tobs: np.ndarray | None = None

    # -- environment state ------------------------------------------------------------
    def get_state(self) -> dict[str, list[bytes]]:
        out = {"train": [s for env in self.envs for s in env.get_state()]}
        if self.test_env is not None:
            out["test"] = self.test_env.get_state()
        return out

    def set_state(self, states: dict[str, list[bytes]]) -> None:
        for env, sl in zip(self.envs, self.slices):
            env.set_state(states["train"][sl])
        if self.test_env is not None:
            self.test_env.set_state(states["test"])

    def start(self) -> None:
        """Read the current observations (after construction or ``set_state``)."""
        self._obs = [env.observe()[1] for env in self.envs]
        self._tobs = self.test_env.observe()[1] if self.test_env is not None else None

    def close(self) -> None:
        for env in self.envs:
            env.close()
        if self.test_env is not None:
            self.test_env.close()

    # -- acting -------------------------------------------------------------------------
    def act(self, obs_np: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(observations on the device, sampled actions, their log-probabilities, values)."""
        x = torch.from_numpy(obs_np).to(self.device)
        chunk = self.inference_chunk or len(x)
        channels_last = self.cfg.train.channels_last
        logits, values = [], []
        with torch.no_grad(), autocast_context(self.device, self.cfg.train.autocast):
            for i in range(0, len(x), chunk):
                xi = self.model.preprocess(x[i : i + chunk])
                if channels_last:
                    xi = xi.contiguous(memory_format=torch.channels_last)
                lg, v = self.model(xi)
                logits.append(lg.float())
                values.append(v.float())
        with torch.no_grad():
            dist = Categorical(logits=torch.cat(logits), validate_args=False)  # no per-step argument checks
            actions = dist.sample()
            return x, actions, dist.log_prob(actions), torch.cat(values)

    # -- one rollout ----------------------------------------------------------------
    def collect(self) -> dict:
        """Step every environment ``ppo.num_steps`` times; returns the batch to learn
        from (advantages and returns computed) and the rollout's reward rates."""
        c = self.cfg
        T, N, G = c.ppo.num_steps, c.env.num_envs, len(self.envs)
        dev = self.device
        shape = self._obs[0].shape[1:]
        self._buf_obs = torch.zeros((T, N, *shape), dtype=torch.uint8, device=dev)
        self._buf = {k: torch.zeros((T, N), device=dev) for k in ("actions", "logp", "values")}
        self._rewards = np.zeros((T, N), np.float32)  # filled on the host, copied to the device once
        self._dones = np.zeros((T, N), np.float32)
        self._rew = [np.zeros(n, np.float32) for n in self.sizes]
        self._first = [np.zeros(n, bool) for n in self.sizes]
        self._died = [np.zeros(n, bool) for n in self.sizes]
        self._raw_sum = self._test_raw_sum = 0.0
        for t in range(T):
            for g in range(G):
                if t > 0:
                    self._observe(g)  # group g's step t-1 ran while the network acted for the others
                self._act_group(g, t)
            if t > 0:
                self._record(t - 1)
        for g in range(G):
            self._observe(g)
        self._record(T - 1)
        last_value = self.act(np.concatenate(self._obs) if G > 1 else self._obs[0])[3]
        # GAE is a loop over the rollout's steps: on the host it costs no kernel launches
        values = self._buf["values"].cpu()
        adv, ret = compute_gae(torch.from_numpy(self._rewards), values, torch.from_numpy(self._dones),
                               last_value.cpu(), c.ppo.gamma, c.ppo.gae_lambda)
        adv, ret = adv.to(dev), ret.to(dev)
        b = self._buf
        scale = 256.0 / T  # the seed's metric: summed mean reward per 256 steps
        return {
            "batch": Batch(self._buf_obs.reshape(T * N, *shape), b["actions"].reshape(-1).long(),
                           b["logp"].reshape(-1), b["values"].reshape(-1), ret.reshape(-1), adv.reshape(-1)),
            "train_reward_rate": self._raw_sum * scale,
            "test_reward_rate": self._test_raw_sum * scale if self.test_env is not None else float("nan"),
        }

    def _act_group(self, g: int, t: int) -> None:
        """Choose group g's actions at step t (and the held-out envs' with the last
        group), send them, and store the step's observations and choices."""
        n, sl = self.sizes[g], self.slices[g]
        with_test = self.test_env is not None and g == len(self.envs) - 1
        obs = np.concatenate([self._obs[g], self._tobs]) if with_test else self._obs[g]
        x, actions, logp, values = self.act(obs)
        a_np = actions.cpu().numpy()
        self.envs[g].act(a_np[:n])
        if with_test:
            self.test_env.act(a_np[n:])
        self._buf_obs[t, sl] = x[:n]
        self._buf["actions"][t, sl] = actions[:n].float()
        self._buf["logp"][t, sl] = logp[:n]
        self._buf["values"][t, sl] = values[:n]

    def _observe(self, g: int) -> None:
        """Wait for group g's step (and the held-out envs' with the last group)."""
        env = self.envs[g]
        self._rew[g], self._obs[g], self._first[g] = env.observe()
        if self.cfg.env.penalize_on_death and self._first[g].any():  # info belongs to this step: read it now
            self._died[g] = np.array([f and not inf.get("prev_level_complete", 0)
                                      for f, inf in zip(self._first[g], env.info())])
        else:
            self._died[g] = np.zeros(self.sizes[g], bool)
        if self.test_env is not None and g == len(self.envs) - 1:
            trew, self._tobs, tfirst = self.test_env.observe()
            self.test_tracker.update(trew, tfirst)
            self._test_raw_sum += float(trew.mean())

    def _record(self, t: int) -> None:
        """Book the rewards and episode ends of step t, all groups together."""
        c = self.cfg
        rew = np.concatenate(self._rew) if len(self._rew) > 1 else self._rew[0]
        first = np.concatenate(self._first) if len(self._first) > 1 else self._first[0]
        self.tracker.update(rew, first)
        self._raw_sum += float(rew.mean())
        train_rew = rew
        if c.env.penalize_on_death and first.any():
            train_rew = rew - c.env.death_penalty * np.concatenate(self._died)
        if c.ppo.normalize_reward:
            train_rew = self.normalizer(train_rew, first)
        self._rewards[t] = train_rew
        self._dones[t] = first
