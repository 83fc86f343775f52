"""The CPU fast paths (chunked update with gradient accumulation, chunked
inference) change nothing that matters: the same config and seed give the same
metrics as one pass over each minibatch and over all environments.

Tolerance: returns, lengths and episode counts equal; losses, KL, clip fraction,
explained variance and gradient norm within 1e-4 relative (float summation order
differs between chunkings).
"""

from __future__ import annotations

import math

import pytest

from rlsight.training import train
from tests.conftest import tiny_config

EXACT = ("train_return", "test_return", "train_length", "test_length", "train_episodes", "test_episodes",
         "train_reward_rate", "test_reward_rate", "lr")
CLOSE = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance", "grad_norm")


@pytest.mark.slow
def test_chunked_and_unchunked_training_agree(tmp_path):
    base = dict(train__total_steps=256 * 6, ppo__batch_size=128, env__num_envs=8, env__num_test_envs=4)
    slow = tiny_config(**base, train__update_chunk=128, train__inference_chunk=12)
    fast = tiny_config(**base, train__update_chunk=16, train__inference_chunk=5)
    a = train(slow, tmp_path / "whole", progress=False).metrics()
    b = train(fast, tmp_path / "chunked", progress=False).metrics()
    assert len(a) == len(b) == 6
    for ra, rb in zip(a, b):
        for k in EXACT:
            assert ra[k] == rb[k] or (math.isnan(ra[k]) and math.isnan(rb[k])), (ra["update"], k, ra[k], rb[k])
        for k in CLOSE:
            assert math.isclose(ra[k], rb[k], rel_tol=1e-4, abs_tol=1e-6), (ra["update"], k, ra[k], rb[k])
