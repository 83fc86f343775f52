"""The actions a rollout sends to the environments are independent draws from the
policy: right frequencies, no draw shared between steps, environments,
the held-out environments or consecutive rollouts. A sampler whose plumbing reuses
random numbers keeps every single draw's distribution and only shows up here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlsight.training.rollout import RolloutCollector
from tests.conftest import tiny_config
from tests.toy_env import QuadrantEnv

LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
PROBS = torch.softmax(LOGITS, -1).double().numpy()
P_SAME = float((PROBS**2).sum())  # chance that two independent draws agree (about 0.29)
CHI2_5DF_P001 = 20.52  # chi-square critical value, 5 degrees of freedom, p = 0.001
Z_LIMIT = 4.0  # |z| beyond this: p < 1e-4 for one check


class FixedPolicy(torch.nn.Module):
    """The same logits for every frame, so every draw has the distribution PROBS."""

    num_actions = len(LOGITS)

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        return x.float()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return LOGITS.expand(len(x), -1), torch.zeros(len(x))


class RecordingEnv(QuadrantEnv):
    """QuadrantEnv that appends every action it receives to ``log``."""

    def __init__(self, log: list[np.ndarray], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = log

    def act(self, actions) -> None:
        self.log.append(np.array(actions, copy=True))
        super().act(actions)


def _agreement_z(a: np.ndarray, b: np.ndarray) -> float:
    """z-score of how often paired draws agree, against independent draws."""
    n = a.size
    same = float((a == b).sum())
    return (same - n * P_SAME) / np.sqrt(n * P_SAME * (1 - P_SAME))


def _rollouts(rollouts: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Actions sent to the training envs (rollout, step, env) and held-out envs."""
    cfg = tiny_config(env__num_envs=16, env__num_test_envs=8, ppo__num_steps=64, ppo__batch_size=256)
    sent: dict[str, list[np.ndarray]] = {"train": [], "test": []}

    def make_env(cfg, split, *args, **kwargs):
        return RecordingEnv(sent[split], cfg, split, *args, **kwargs)

    torch.manual_seed(3)
    collector = RolloutCollector(cfg, FixedPolicy(), torch.device("cpu"), make_env, seed=5)
    collector.start()
    for _ in range(rollouts):
        collector.collect()
    collector.close()
    T = cfg.ppo.num_steps
    # one row per step: (rollout, step, env) in order
    train = np.stack(sent["train"]).reshape(rollouts, T, -1)
    test = np.stack(sent["test"]).reshape(rollouts, T, -1)
    return train, test


def check_independent_draws(train: np.ndarray, test: np.ndarray) -> None:
    """Assert the frequencies and every kind of pairing look like independent draws."""
    actions = np.concatenate([train.ravel(), test.ravel()])
    counts = np.bincount(actions, minlength=len(PROBS))
    expected = PROBS * len(actions)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < CHI2_5DF_P001, f"action frequencies differ from the policy's: chi-square {chi2:.1f}"
    pairs = {
        "consecutive steps": (train[:, :-1], train[:, 1:]),
        "neighbouring environments": (train[:, :, :-1], train[:, :, 1:]),
        "first and second half of the environments": np.split(train, 2, axis=2),
        "training and held-out environments": (train[:, :, : test.shape[2]], test),
        "consecutive rollouts": (train[0], train[1]),
    }
    for what, (a, b) in pairs.items():
        z = _agreement_z(a, b)
        assert abs(z) < Z_LIMIT, f"{what}: draws agree too often or too rarely (z = {z:.1f})"


def test_rollout_actions_are_independent_draws_from_the_policy():
    check_independent_draws(*_rollouts())


def test_the_check_catches_shared_random_numbers():
    """Draws shared between steps, environments, splits or rollouts fail the check."""
    rng = np.random.default_rng(0)
    draw = lambda *shape: rng.choice(len(PROBS), size=shape, p=PROBS)  # noqa: E731
    train, test = draw(2, 64, 16), draw(2, 64, 8)
    check_independent_draws(train, test)  # the honest version passes
    broken = {
        "same draw every step": (np.repeat(train[:, :1], 64, axis=1), test),
        "same draw for every env": (np.repeat(train[:, :, :1], 16, axis=2), test),
        "groups share draws": (np.concatenate([train[:, :, :8], train[:, :, :8]], axis=2), test),
        "held-out envs reuse the training draws": (train, train[:, :, :8]),
        "rollouts reuse their draws": (np.stack([train[0], train[0]]), test),
    }
    for what, (a, b) in broken.items():
        try:
            check_independent_draws(a, b)
        except AssertionError:
            continue
        pytest.fail(f"not caught: {what}")
