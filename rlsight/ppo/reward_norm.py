"""Reward scaling by a running estimate of the discounted return's standard
deviation, as in OpenAI baselines' VecNormalize (used by the Procgen paper)."""

from __future__ import annotations

import numpy as np


class RunningMeanStd:
    """Mean and variance of a stream of batches (Chan et al. parallel update)."""

    def __init__(self) -> None:
        self.mean = 0.0
        self.var = 1.0
        self.count = 1e-4

    def update(self, x: np.ndarray) -> None:
        """Fold a batch of values into the running mean and variance."""
        b_mean, b_var, b_count = float(np.mean(x)), float(np.var(x)), x.size
        delta = b_mean - self.mean
        tot = self.count + b_count
        self.mean += delta * b_count / tot
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / tot
        self.var = m2 / tot
        self.count = tot


class RewardNormalizer:
    """``r / sqrt(Var[discounted return] + eps)``, clipped to [-clip, clip]."""

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, eps: float = 1e-8):
        self.ret = np.zeros(num_envs, dtype=np.float64)
        self.rms = RunningMeanStd()
        self.gamma, self.clip, self.eps = gamma, clip, eps

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Scale one step's rewards (updating the running return); ``done`` resets the return."""
        self.ret = self.ret * self.gamma + reward
        self.rms.update(self.ret)
        out = np.clip(reward / np.sqrt(self.rms.var + self.eps), -self.clip, self.clip)
        self.ret[done] = 0.0
        return out.astype(np.float32)

    def state_dict(self) -> dict:
        """The normaliser's state as plain JSON-able values."""
        return {"ret": self.ret.tolist(), "mean": self.rms.mean, "var": self.rms.var, "count": self.rms.count}

    def load_state_dict(self, d: dict) -> None:
        """Restore the state written by ``state_dict``."""
        self.ret = np.asarray(d["ret"], dtype=np.float64)
        self.rms.mean, self.rms.var, self.rms.count = d["mean"], d["var"], d["count"]
