"""Per-environment episode returns and lengths."""

from __future__ import annotations

from collections import deque

import numpy as np


class EpisodeTracker:
    """Accumulates raw rewards per env and records each finished episode.

    ``update(reward, first)`` takes the reward of the last step and the ``first``
    flags of the new observations: an env whose flag is set finished an episode.
    """

    def __init__(self, num_envs: int, window: int = 100):
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self.recent_returns: deque[float] = deque(maxlen=window)
        self.recent_lengths: deque[int] = deque(maxlen=window)
        self.finished: list[tuple[int, float, int]] = []  # (env, return, length), since last drain

    def update(self, reward: np.ndarray, first: np.ndarray) -> None:
        """Add one step's rewards; book the episodes that ended (``first`` set)."""
        self.returns += reward
        self.lengths += 1
        for i in np.flatnonzero(first):
            r, n = float(self.returns[i]), int(self.lengths[i])
            self.recent_returns.append(r)
            self.recent_lengths.append(n)
            self.finished.append((int(i), r, n))
            self.returns[i] = 0.0
            self.lengths[i] = 0

    def drain(self) -> list[tuple[int, float, int]]:
        """The episodes finished since the last call, as (env, return, length); clears them."""
        out, self.finished = self.finished, []
        return out

    def mean_return(self) -> float:
        """Mean return of the last ``window`` finished episodes (NaN before the first)."""
        return float(np.mean(self.recent_returns)) if self.recent_returns else float("nan")

    def mean_length(self) -> float:
        """Mean length of the last ``window`` finished episodes (NaN before the first)."""
        return float(np.mean(self.recent_lengths)) if self.recent_lengths else float("nan")

    def state_dict(self) -> dict:
        """The running sums and recent episodes, JSON-serialisable, for a checkpoint."""
        return {
            "returns": self.returns.tolist(),
            "lengths": self.lengths.tolist(),
            "recent_returns": list(self.recent_returns),
            "recent_lengths": list(self.recent_lengths),
        }

    def load_state_dict(self, d: dict) -> None:
        """Restore what ``state_dict`` returned."""
        self.returns = np.asarray(d["returns"], dtype=np.float64)
        self.lengths = np.asarray(d["lengths"], dtype=np.int64)
        self.recent_returns.clear()
        self.recent_returns.extend(d["recent_returns"])
        self.recent_lengths.clear()
        self.recent_lengths.extend(d["recent_lengths"])
