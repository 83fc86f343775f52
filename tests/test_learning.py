"""PPO learns a simple image task; a sign-flipped policy gradient does not."""

from __future__ import annotations

import pytest
import torch

from rlsight.ppo import losses
from rlsight.runs import RunDir
from rlsight.training import train
from tests.conftest import tiny_config
from tests.toy_env import EPISODE, QuadrantEnv

RANDOM_RETURN = EPISODE / 15


def _learned_return(tmp_path, **overrides) -> float:
    cfg = tiny_config(
        env__num_envs=16, env__num_test_envs=8, ppo__num_steps=32, ppo__batch_size=128, ppo__num_epochs=3,
        ppo__lr=1e-3, ppo__gamma=0.9, ppo__normalize_reward=False, ppo__entropy_coef=0.0,
        train__total_steps=16 * 32 * 20, train__save_step=10**9, **overrides,
    )
    run = train(cfg, tmp_path / "toy", progress=False, env_factory=QuadrantEnv)
    rows = RunDir.open(run.path).metrics()
    return sum(r["test_return"] for r in rows[-3:]) / 3


def learns(ret: float) -> bool:
    """The check: held-out return at least 4x a random policy's."""
    return ret >= 4 * RANDOM_RETURN


@pytest.mark.slow
def test_ppo_learns_the_quadrant_task(tmp_path):
    ret = _learned_return(tmp_path)
    assert learns(ret), f"test return {ret:.2f} vs random {RANDOM_RETURN:.2f}"


@pytest.mark.slow
def test_ppo_learns_with_bf16_forward_passes(tmp_path):
    ret = _learned_return(tmp_path, train__autocast="bf16")
    assert learns(ret), f"test return {ret:.2f} with bf16 autocast vs random {RANDOM_RETURN:.2f}"


@pytest.mark.slow
def test_sign_flipped_policy_gradient_fails_the_same_check(tmp_path, monkeypatch):
    original = losses.clipped_surrogate

    def flipped(ratio: torch.Tensor, adv: torch.Tensor, clip_eps: float) -> torch.Tensor:
        return original(ratio, -adv, clip_eps)

    monkeypatch.setattr(losses, "clipped_surrogate", flipped)
    ret = _learned_return(tmp_path)
    assert not learns(ret), f"a broken update reached {ret:.2f}"
