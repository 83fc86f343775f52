"""benchmarks/train_sps.py counts the network's work per environment step as a
hand count of Nature-DQN's multiply-adds gives it."""

from __future__ import annotations

import sys

from rlsight import config as C
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from train_sps import flops_per_step  # noqa: E402


def _nature_flops(n_features: int) -> tuple[int, int]:
    """(forward FLOPs per sample, the first convolution's share), 2 per multiply-add."""
    conv1 = 2 * 15 * 15 * 32 * (3 * 8 * 8)  # 64x64 -> 15x15, stride 4
    conv2 = 2 * 6 * 6 * 64 * (32 * 4 * 4)  # -> 6x6, stride 2
    conv3 = 2 * 4 * 4 * 64 * (64 * 3 * 3)  # -> 4x4
    linear = 2 * (4 * 4 * 64) * n_features + 2 * n_features * (15 + 1)  # features, policy and value heads
    return conv1 + conv2 + conv3 + linear, conv1


def test_flops_per_step_counts_acting_and_every_epoch_of_learning():
    cfg = C.load("procgen-paper", ["model.encoder=nature", "env.num_test_envs=16", "ppo.num_epochs=3"])
    fwd, conv1 = _nature_flops(cfg.model.n_features)
    # backward: gradients of inputs and of weights, each as much as the forward,
    # except that nothing needs the gradient of the frames
    fwd_bwd = 3 * fwd - conv1
    acting = (64 + 16) / 64  # held-out environments act too, per training step
    assert flops_per_step(cfg) == acting * fwd + 3 * fwd_bwd
    fewer = C.load("procgen-paper", ["model.encoder=nature", "env.num_test_envs=0", "ppo.num_epochs=1"])
    assert flops_per_step(fewer) == fwd + fwd_bwd
