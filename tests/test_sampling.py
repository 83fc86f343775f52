"""``rlsight.models.sampling``: every way of drawing gives the policy's distribution,
the global-stream draw is ``Categorical.sample`` (so existing seeds keep their
numbers), a caller's generator and pre-drawn Gumbel noise are reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import Categorical

from rlsight.models.sampling import gumbel_noise, sample_actions, sample_with_log_prob

LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
PROBS = torch.softmax(LOGITS, -1).double().numpy()
CHI2_5DF_P001 = 20.52
N = 20_000


def _chi2(actions: torch.Tensor) -> float:
    counts = np.bincount(actions.numpy(), minlength=len(PROBS))
    expected = PROBS * len(actions)
    return float(((counts - expected) ** 2 / expected).sum())


def test_every_way_of_drawing_has_the_policys_frequencies():
    logits = LOGITS.expand(N, -1)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    draws = {
        "global stream": sample_actions(logits),
        "generator": sample_actions(logits, generator=gen),
        "gumbel-max": sample_actions(logits, gumbel=gumbel_noise(logits.shape, generator=gen)),
    }
    for what, a in draws.items():
        assert _chi2(a) < CHI2_5DF_P001, what
    # a sampler that ignored the logits (uniform) fails the same check
    assert _chi2(torch.randint(0, len(PROBS), (N,))) > CHI2_5DF_P001


def test_global_stream_draws_are_categorical_sample_bit_for_bit():
    logits = torch.randn(64, 15)
    torch.manual_seed(7)
    ref = Categorical(logits=logits).sample()
    ref_logp = Categorical(logits=logits).log_prob(ref)
    torch.manual_seed(7)
    a, logp = sample_with_log_prob(logits)
    assert torch.equal(a, ref) and torch.equal(logp, ref_logp)


def test_generator_and_gumbel_draws_repeat_and_leave_the_global_stream_alone():
    logits = torch.randn(32, 15)
    torch.manual_seed(3)
    before = torch.get_rng_state()
    a = sample_actions(logits, generator=torch.Generator().manual_seed(5))
    b = sample_actions(logits, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    g = gumbel_noise(logits.shape, generator=torch.Generator().manual_seed(9))
    assert torch.equal(sample_actions(logits, gumbel=g), (logits + g).argmax(-1))
    assert torch.equal(torch.get_rng_state(), before)


def test_greedy_is_the_argmax_and_generator_with_noise_is_refused():
    logits = torch.randn(8, 15)
    assert torch.equal(sample_actions(logits, greedy=True), logits.argmax(-1))
    with pytest.raises(ValueError, match="not both"):
        sample_actions(logits, generator=torch.Generator(), gumbel=torch.zeros(8, 15))
