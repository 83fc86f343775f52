"""The rollout's acting step (``rlsight.training.acting``): Gumbel-max sampling
draws actions with the policy's probabilities, the stored log-probabilities and
values are those of the network for the stored frames and actions, and chunked
inference picks the same actions as one pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlsight.models import build_model
from rlsight.training.acting import Actor, PolicyStep, gumbel_noise
from rlsight.training.rollout import RolloutCollector
from tests.conftest import tiny_config
from tests.toy_env import QuadrantEnv

LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
SAMPLES = 30_000


class FixedPolicy(torch.nn.Module):
    """The same logits for every frame; the value is the frame's first byte."""

    num_actions = len(LOGITS)

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        return x.float()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return LOGITS.expand(len(x), -1), x.reshape(len(x), -1)[:, 0]


CHI2_5DF_P001 = 20.52  # chi-square critical value, 5 degrees of freedom, p = 0.001


def _chi_square(actions: torch.Tensor) -> float:
    counts = np.bincount(actions.numpy(), minlength=len(LOGITS))
    expected = torch.softmax(LOGITS, -1).double().numpy() * len(actions)
    return float(((counts - expected) ** 2 / expected).sum())


def _sample(noise_of) -> torch.Tensor:
    torch.manual_seed(0)
    frames = torch.zeros((SAMPLES, 1), dtype=torch.uint8)
    actions, _ = Actor(FixedPolicy())(frames, noise_of((SAMPLES, len(LOGITS))))
    return actions


def test_gumbel_max_samples_the_policy_and_broken_variants_do_not():
    """The chi-square test of 30,000 draws accepts Gumbel-max and rejects three
    plausible mistakes: no noise (greedy), the noise's sign flipped, uniform noise."""
    assert _chi_square(_sample(lambda s: gumbel_noise(s, torch.device("cpu")))) < CHI2_5DF_P001
    for broken in (torch.zeros, lambda s: -gumbel_noise(s, torch.device("cpu")), torch.rand):
        assert _chi_square(_sample(broken)) > 10 * CHI2_5DF_P001


def test_gumbel_noise_is_finite():
    g = gumbel_noise((1_000_000,), torch.device("cpu"))
    assert torch.isfinite(g).all()
    assert abs(g.mean().item() - 0.5772) < 0.01  # the Euler-Mascheroni constant


def test_packed_rows_hold_action_log_probability_and_value():
    frames = torch.arange(40, dtype=torch.uint8).reshape(40, 1)
    actions, rows = Actor(FixedPolicy())(frames, gumbel_noise((40, len(LOGITS)), torch.device("cpu")))
    assert rows.shape == (40, 3) and rows.dtype == torch.float32
    np.testing.assert_array_equal(rows[:, 0].long(), actions)
    torch.testing.assert_close(rows[:, 1], torch.log_softmax(LOGITS, -1)[actions])
    torch.testing.assert_close(rows[:, 2], frames[:, 0].float())


def test_chunked_inference_picks_the_same_actions():
    torch.manual_seed(1)
    model = build_model(tiny_config().model).eval()
    frames = torch.randint(0, 256, (23, 64, 64, 3), dtype=torch.uint8)
    noise = gumbel_noise((23, model.num_actions), torch.device("cpu"))
    a_whole, rows_whole = Actor(model)(frames, noise)
    a_chunks, rows_chunks = Actor(model, chunk=5)(frames, noise)
    np.testing.assert_array_equal(a_whole, a_chunks)
    torch.testing.assert_close(rows_whole, rows_chunks)


@pytest.mark.parametrize("groups", [1, 2])
def test_stored_choices_are_the_networks(groups):
    """After a rollout, each stored log-probability and value is what the network
    gives for the stored frame and action, and the actions spread over the choices."""
    cfg = tiny_config(env__num_envs=8, env__num_test_envs=3, ppo__num_steps=12, ppo__batch_size=96,
                      train__env_groups=groups)
    torch.manual_seed(2)
    model = build_model(cfg.model)
    collector = RolloutCollector(cfg, model, torch.device("cpu"), QuadrantEnv, seed=5)
    collector.start()
    b = collector.collect()["batch"]
    with torch.no_grad():
        logits, values = model(b.obs)
    torch.testing.assert_close(b.logp, torch.log_softmax(logits, -1).gather(1, b.actions[:, None]).squeeze(1))
    torch.testing.assert_close(b.values, values)
    assert len(set(b.actions.tolist())) > 5  # sampled, not greedy: an untrained policy is near uniform


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (pinned staging buffer)")
def test_frames_reach_the_gpu_intact_through_the_staging_buffer():
    """Consecutive steps reuse one pinned buffer: each step's frames arrive whole."""
    cfg = tiny_config(train__device="cuda")
    model = build_model(cfg.model).cuda()
    step = PolicyStep(cfg, model, torch.device("cuda"))
    rng = np.random.default_rng(0)
    for _ in range(20):
        parts = [rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8) for n in (8, 4)]
        x, actions, rows = step(parts, step.noise(1, 12)[0])
        np.testing.assert_array_equal(x.cpu().numpy(), np.concatenate(parts))
        np.testing.assert_array_equal(rows[:, 0].long().cpu().numpy(), actions)
