"""Shared by the Atari tests: skip without ale-py, and a tiny Atari config."""

from __future__ import annotations

import importlib.util

import pytest

from rlsight.config import Config
from tests.conftest import config_from

needs_ale = pytest.mark.skipif(
    importlib.util.find_spec("ale_py") is None or importlib.util.find_spec("cv2") is None,
    reason="ale-py (and opencv-python) not installed: pip install 'rlsight[atari]'")


TINY_ATARI = {
    "env__family": "atari", "env__num_envs": 2, "env__num_test_envs": 1,
    "model__encoder": "nature", "model__n_features": 32,
    "ppo__num_steps": 32, "ppo__batch_size": 32, "ppo__num_epochs": 1, "ppo__normalize_reward": False,
    "train__total_steps": 64 * 6, "train__save_step": 64 * 2, "train__torch_threads": 1,
}


def tiny_atari_config(game: str = "Pong", **overrides) -> Config:
    """An Atari config that trains in seconds on a CPU (Nature encoder, 2 envs)."""
    return config_from({**TINY_ATARI, "env__game": game}, **overrides)
