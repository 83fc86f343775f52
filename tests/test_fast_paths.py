"""The fast paths that are not exact (chunked update with gradient accumulation,
the chunks spread over threads for IMPALA, a compiled network)
change nothing that matters: the same config and seed give the same metrics as
one eager pass over each minibatch and over all environments.

Tolerance: returns, lengths and episode counts equal; losses, KL, clip fraction,
explained variance and gradient norm of the first two updates within 1e-4 relative or
1e-5 absolute (float summation order differs between chunkings and kernels; the
policy loss is a mean of per-sample terms of order 1 that nearly cancel, so near
zero only an absolute tolerance means anything). Later updates start from weights
that those rounding differences moved, and PPO's clipping amplifies them (a sample
that crosses the clip boundary changes the gradient by a step), so they are held
to 2% relative or 1e-3 absolute (the policy loss, near zero, drifts by 4e-4 by the
sixth update of the chunked test, measured the same before and after rollouts
dropped chunked inference): far tighter than any real fault (a gradient scaled by
the chunk count moves the second update's gradient norm many-fold).
"""

from __future__ import annotations

import math

import pytest

from rlsight.training import train
from tests.conftest import tiny_config

EXACT = ("train_return", "test_return", "train_length", "test_length", "train_episodes", "test_episodes",
         "train_reward_rate", "test_reward_rate", "lr")
CLOSE = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance", "grad_norm")


def _assert_same_metrics(a: list[dict], b: list[dict], updates: int) -> None:
    assert len(a) == len(b) == updates
    for ra, rb in zip(a, b):
        for k in EXACT:
            assert ra[k] == rb[k] or (math.isnan(ra[k]) and math.isnan(rb[k])), (ra["update"], k, ra[k], rb[k])
        rel, tol = (1e-4, 1e-5) if ra["update"] <= 2 else (2e-2, 1e-3)
        for k in CLOSE:
            assert math.isclose(ra[k], rb[k], rel_tol=rel, abs_tol=tol), (ra["update"], k, ra[k], rb[k])


@pytest.mark.slow
def test_chunked_and_unchunked_training_agree(tmp_path):
    base = dict(train__total_steps=256 * 6, ppo__batch_size=128, env__num_envs=8, env__num_test_envs=4)
    slow = tiny_config(**base, train__update_chunk=128)
    fast = tiny_config(**base, train__update_chunk=16)
    a = train(slow, tmp_path / "whole", progress=False).metrics()
    b = train(fast, tmp_path / "chunked", progress=False).metrics()
    _assert_same_metrics(a, b, 6)


@pytest.mark.slow
def test_impala_update_spread_over_two_threads_agrees(tmp_path):
    """IMPALA on two torch threads deals its chunks out to one thread per core."""
    base = dict(train__total_steps=256 * 4, ppo__batch_size=128, env__num_envs=8, env__num_test_envs=4,
                model__encoder="impala", model__impala_channels=[4, 8, 8], train__torch_threads=2)
    a = train(tiny_config(**base, train__update_chunk=128), tmp_path / "whole", progress=False).metrics()
    b = train(tiny_config(**base, train__update_chunk=16), tmp_path / "split", progress=False).metrics()
    _assert_same_metrics(a, b, 4)


@pytest.mark.slow
def test_compiled_network_trains_like_the_eager_one(tmp_path):
    """``train.compile``: the compiled network's kernels round differently, within the tolerance."""
    base = dict(train__total_steps=256 * 3)
    a = train(tiny_config(**base), tmp_path / "eager", progress=False).metrics()
    b = train(tiny_config(**base, train__compile="default"), tmp_path / "compiled", progress=False).metrics()
    _assert_same_metrics(a, b, 3)
