"""Shared by the Atari tests: skip without ale-py, and a tiny Atari config."""

from __future__ import annotations

import importlib.util

import pytest

from rlsight.config import Config, validate

needs_ale = pytest.mark.skipif(
    importlib.util.find_spec("ale_py") is None or importlib.util.find_spec("cv2") is None,
    reason="ale-py (and opencv-python) not installed: pip install 'rlsight[atari]'")


def tiny_atari_config(game: str = "Pong", **overrides) -> Config:
    """An Atari config that trains in seconds on a CPU (Nature encoder, 2 envs)."""
    c = Config()
    c.env.family = "atari"
    c.env.game = game
    c.env.num_envs = 2
    c.env.num_test_envs = 1
    c.model.encoder = "nature"
    c.model.n_features = 32
    c.ppo.num_steps = 32
    c.ppo.batch_size = 32
    c.ppo.num_epochs = 1
    c.ppo.normalize_reward = False
    c.train.total_steps = 64 * 6
    c.train.save_step = 64 * 2
    c.train.torch_threads = 1
    for k, v in overrides.items():
        sec, key = k.split("__")
        setattr(getattr(c, sec), key, v)
    validate(c)
    return c
