"""A tiny image task with the ProcgenVecEnv interface, for fast learning tests.

One of four quadrants of a 64x64 frame is lit; action k (0..3) is right when
quadrant k is lit and earns reward 1. Episodes last 8 steps, so a random policy
over 15 actions earns about 8/15 per episode and a learned one close to 8.
"""

from __future__ import annotations

import pickle

import numpy as np

EPISODE = 8


class QuadrantEnv:
    def __init__(self, cfg, split: str, num_envs: int, seed: int, render: bool = False):
        self.num_envs = num_envs
        self.rng = np.random.default_rng(seed + (0 if split == "train" else 10_000))
        self.target = self.rng.integers(0, 4, num_envs)
        self.t = np.zeros(num_envs, dtype=np.int64)
        self.rew = np.zeros(num_envs, dtype=np.float32)
        self.first = np.ones(num_envs, dtype=bool)

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, 64, 64, 3), dtype=np.uint8)
        for i, k in enumerate(self.target):
            r, c = divmod(int(k), 2)
            obs[i, r * 32 : (r + 1) * 32, c * 32 : (c + 1) * 32] = 255
        return obs

    def observe(self):
        return self.rew.copy(), self._obs(), self.first.copy()

    def act(self, actions) -> None:
        actions = np.asarray(actions)
        self.rew = (actions == self.target).astype(np.float32)
        self.t += 1
        self.first = self.t >= EPISODE
        self.t[self.first] = 0
        self.target = self.rng.integers(0, 4, self.num_envs)

    def step(self, actions):
        self.act(actions)
        return self.observe()

    def info(self):
        return [{"prev_level_complete": 1} for _ in range(self.num_envs)]

    def get_state(self):
        blob = pickle.dumps((self.rng.bit_generator.state, self.target, self.t, self.rew, self.first))
        return [blob] + [b""] * (self.num_envs - 1)

    def set_state(self, states):
        s, self.target, self.t, self.rew, self.first = pickle.loads(states[0])
        self.rng.bit_generator.state = s

    def close(self) -> None:
        pass


# Colours of ShiftedCueEnv's cue: action k is right for colour k.
CUE_COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], dtype=np.uint8)
CUE = 8  # the cue's side in pixels
MAX_SHIFT = 8  # held-out frames: the cue moved by up to this many pixels each way


class ShiftedCueEnv(QuadrantEnv):
    """A generalisation toy: an 8x8 cue in one of four colours; action k is right for colour k.

    Training frames show the cue at the centre; held-out frames ("test") show it shifted by a
    random offset of 2..MAX_SHIFT pixels per axis (either sign), so a policy that learned only the
    centre position fails there and one trained to ignore shifts (augmentation) succeeds.
    """

    def __init__(self, cfg, split: str, num_envs: int, seed: int, render: bool = False):
        super().__init__(cfg, split, num_envs, seed, render)
        self.shifted = split != "train"
        self._draw_shift()

    def _draw_shift(self) -> None:
        mag = self.rng.integers(2, MAX_SHIFT + 1, (self.num_envs, 2))
        self.shift = mag * self.rng.choice([-1, 1], (self.num_envs, 2)) if self.shifted else np.zeros_like(mag)

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, 64, 64, 3), dtype=np.uint8)
        lo = 32 - CUE // 2
        for i, k in enumerate(self.target):
            r, c = lo + self.shift[i]
            obs[i, r : r + CUE, c : c + CUE] = CUE_COLOURS[k]
        return obs

    def act(self, actions) -> None:
        super().act(actions)
        self._draw_shift()

    def get_state(self):
        blob = pickle.dumps((self.rng.bit_generator.state, self.target, self.t, self.rew, self.first, self.shift))
        return [blob] + [b""] * (self.num_envs - 1)

    def set_state(self, states):
        s, self.target, self.t, self.rew, self.first, self.shift = pickle.loads(states[0])
        self.rng.bit_generator.state = s
