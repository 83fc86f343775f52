"""PPO maths against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from rlsight.config import ModelConfig, PPOConfig
from rlsight.models import build_model
from rlsight.ppo import Batch, RewardNormalizer, compute_gae, ppo_update, value_loss


def test_gae_matches_a_hand_computation():
    r = torch.tensor([[1.0], [0.0], [2.0]])
    v = torch.tensor([[0.5], [0.2], [0.1]])
    d = torch.tensor([[0.0], [1.0], [0.0]])  # episode ends after step 1
    last = torch.tensor([0.3])
    g, lam = 0.9, 0.8
    d2 = 2.0 + g * 0.3 - 0.1
    d1 = 0.0 - 0.2  # terminal: no bootstrap
    d0 = 1.0 + g * 0.2 - 0.5
    a1 = d1
    a0 = d0 + g * lam * a1
    adv, ret = compute_gae(r, v, d, last, g, lam)
    assert torch.allclose(adv[:, 0], torch.tensor([a0, a1, d2]))
    assert torch.allclose(ret, adv + v)


def test_value_clipping_clips_to_a_symmetric_range():
    old = torch.tensor([0.0, 0.0])
    new = torch.tensor([1.0, -1.0])
    ret = torch.tensor([1.0, -1.0])
    # Clipped to [-0.2, 0.2]: both samples keep the larger, clipped loss 0.5*0.8^2.
    assert torch.allclose(value_loss(new, old, ret, 0.2), torch.tensor([0.32, 0.32]))
    assert torch.allclose(value_loss(new, old, ret, None), torch.zeros(2))


def test_reward_normalizer_scales_by_return_std():
    rn = RewardNormalizer(4, gamma=0.99)
    rng = np.random.default_rng(0)
    out = [rn(rng.normal(0, 10, 4).astype(np.float32), np.zeros(4, bool)) for _ in range(2000)]
    assert 0.01 < np.std(out) < 1.0
    rn.ret[:] = 5
    rn(np.zeros(4, np.float32), np.array([True, False, True, False]))
    assert rn.ret[0] == 0 and rn.ret[1] != 0


def _batch(n=128):
    g = torch.Generator().manual_seed(0)
    return Batch(
        obs=torch.randint(0, 255, (n, 64, 64, 3), dtype=torch.uint8, generator=g),
        actions=torch.randint(0, 15, (n,), generator=g), logp=torch.full((n,), -2.7),
        values=torch.randn(n, generator=g), returns=torch.randn(n, generator=g), advantages=torch.randn(n, generator=g),
    )


def _run_update(chunk: int, workers: int = 1, autocast: str = "off"):
    torch.manual_seed(0)
    model = build_model(ModelConfig(encoder="nature", n_features=32))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.manual_seed(1)
    stats = ppo_update(model, opt, _batch(), PPOConfig(batch_size=64, num_epochs=2), chunk=chunk, workers=workers,
                       autocast=autocast)
    return model, stats


def test_chunked_update_equals_whole_minibatch_update():
    m1, s1 = _run_update(0)
    m2, s2 = _run_update(16)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.allclose(p1, p2, atol=1e-5)
    assert abs(s1["policy_loss"] - s2["policy_loss"]) < 1e-5


def test_update_spread_over_threads_equals_one_thread_and_is_reproducible():
    m1, s1 = _run_update(16)
    m3, s3 = _run_update(16, workers=3)  # 4 chunks per minibatch dealt out as 1, 1, 2
    again, s3b = _run_update(16, workers=3)
    for p1, p3, pb in zip(m1.parameters(), m3.parameters(), again.parameters()):
        assert torch.allclose(p1, p3, atol=1e-5)
        assert torch.equal(p3, pb)  # groups are summed in a fixed order
    for k in s1:
        assert abs(s1[k] - s3[k]) <= 1e-5 * max(1.0, abs(s1[k])), k
    assert s3 == s3b


@pytest.mark.parametrize("workers", [1, 2])
def test_a_parameter_the_loss_does_not_use_stays_put_on_any_number_of_threads(workers):
    """PPG's auxiliary value head is not in the PPO loss: an update must leave it where it is, though
    Adam has moments for it from an auxiliary phase (a zero gradient would move it by them)."""
    from rlsight.models.policy import ActorCritic

    torch.manual_seed(0)
    model = ActorCritic(ModelConfig(encoder="nature", n_features=32), aux_value=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for p in model.parameters():  # an auxiliary phase's step: every parameter has Adam moments
        p.grad = torch.ones_like(p)
    opt.step()
    opt.zero_grad(set_to_none=True)
    head = [p.detach().clone() for p in model.aux_value.parameters()]
    policy = model.policy.weight.detach().clone()
    torch.manual_seed(1)
    ppo_update(model, opt, _batch(), PPOConfig(batch_size=64, num_epochs=2), chunk=16, workers=workers)
    for before, after in zip(head, model.aux_value.parameters()):
        assert torch.equal(before, after)
    assert not torch.equal(policy, model.policy.weight)  # the update did train the rest


class _HostReads(TorchDispatchMode):
    """Counts reads of a tensor's value by the host (``.item()``, ``float()``,
    ``bool()``): on a GPU each one waits for every kernel queued before it."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_update_reads_nothing_back_between_minibatches():
    """The host reads the statistics once, after the last minibatch, so on a GPU
    the next minibatch's kernels queue up while the last ones run."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(encoder="nature", n_features=32))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)  # Adam reads its step counter (a CPU tensor) each step
    with _HostReads() as reads:
        stats = ppo_update(model, opt, _batch(), PPOConfig(batch_size=32, num_epochs=2), chunk=16)
    assert reads.count == 0  # 8 minibatches of 2 chunks; reading as it went, the update made 120
    assert set(stats) >= {"policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm"}
    assert all(np.isfinite(v) for v in stats.values())


def test_update_changes_the_weights():
    torch.manual_seed(0)
    model = build_model(ModelConfig(encoder="nature", n_features=32))
    before = [p.clone() for p in model.parameters()]
    ppo_update(model, torch.optim.Adam(model.parameters(), lr=1e-3), _batch(), PPOConfig(batch_size=64, num_epochs=1))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_bf16_autocast_update_is_close_to_float32_and_not_identical():
    """bf16 forward passes (``train.autocast``) change the numbers a little, not the update."""
    m32, s32 = _run_update(0)
    m16, s16 = _run_update(0, autocast="bf16")
    assert s16 != s32  # the forward passes did run in bf16
    for k in ("policy_loss", "value_loss", "entropy"):
        assert abs(s16[k] - s32[k]) <= 0.03 * max(1.0, abs(s32[k])), (k, s16[k], s32[k])
    torch.manual_seed(0)
    start = [p.detach().clone() for p in build_model(ModelConfig(encoder="nature", n_features=32)).parameters()]

    def step(m):
        return torch.cat([(p.detach() - p0).flatten() for p, p0 in zip(m.parameters(), start)])

    assert all(p.dtype == torch.float32 for p in m16.parameters())
    # Adam's first steps are nearly sign-like, so weights with tiny gradients may move
    # either way; the update as a whole points the same way (measured: cosine 0.955).
    assert torch.nn.functional.cosine_similarity(step(m32), step(m16), dim=0) > 0.9
