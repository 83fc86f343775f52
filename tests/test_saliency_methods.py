"""Saliency methods: correctness on hand-built networks, vectorised = loop, one call shape."""

from __future__ import annotations

import pytest
import torch

from rlsight.config import ModelConfig
from rlsight.errors import RlsightError
from rlsight.explain.saliency.methods import METHODS, MethodOptions, Perturbation, make_method
from rlsight.explain.saliency.perturbation import (
    ChannelsLastNetwork,
    fastest_network,
    gaussian_blur,
    grid_shape,
    inference_network,
    loop_scores,
    make_masks,
    perturbation_scores,
    upsample_scores,
)
from rlsight.models import ActorCritic
from tests.saliency_helpers import ActionRegionNet, BlindNet, RegionNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _frames(n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _mass_inside(maps: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    m = maps.sum(1)  # (N, H, W)
    return m[:, inside].sum(1) / m.flatten(1).sum(1)


# -- acceptance 1 -------------------------------------------------------------------

@pytest.mark.parametrize("target", ["actor", "critic"])
def test_perturbation_mass_inside_known_region(target):
    net = RegionNet().eval()
    maps = Perturbation(net, stride=2, radius=2).attribute(_frames(), target)
    frac = _mass_inside(maps, net.inside())
    assert (frac >= 0.9).all(), frac


def test_perturbation_default_settings_stay_within_a_radius_of_the_region():
    net = RegionNet().eval()
    maps = Perturbation(net).attribute(_frames(), "actor")  # stride 4, radius 5
    grown = torch.zeros(64, 64, dtype=torch.bool)
    y0, y1, x0, x1 = net.box
    grown[y0 - 5:y1 + 5, x0 - 5:x1 + 5] = True
    assert (_mass_inside(maps, grown) >= 0.9).all()
    assert (_mass_inside(maps, ~grown) < 0.1).all()


@pytest.mark.parametrize("target", ["actor", "critic"])
def test_vanilla_gradient_mass_inside_known_region(target):
    net = RegionNet(box=(4, 20, 40, 60)).eval()
    maps = make_method("gradient", net).attribute(_frames(), target)
    assert maps.shape == (2, 3, 64, 64)
    assert (_mass_inside(maps, net.inside()) >= 0.9).all()
    assert maps[:, :, ~net.inside()].abs().max() == 0


def test_per_channel_perturbation_finds_the_channel_the_network_reads():
    """The seed only ever perturbed red; a green-only network must light up green."""
    net = RegionNet(channels=(1,)).eval()
    maps = Perturbation(net, stride=8, per_channel=True).attribute(_frames(), "actor")
    assert maps.shape == (2, 3, 64, 64)
    per_channel = maps.sum((2, 3))
    assert (per_channel[:, 1] > 0).all()
    noise = 1e-6 * per_channel[:, 1].min()  # float noise between batched passes
    assert per_channel[:, 0].max() < noise and per_channel[:, 2].max() < noise


# -- vectorised = loop ----------------------------------------------------------------

@pytest.mark.parametrize("encoder, chunk", [("nature", 24), ("impala", 24), ("nature", 160)])
def test_vectorised_perturbation_equals_per_mask_loop(encoder, chunk):
    """chunk 24: slices of one frame's 64 masks (the last one shorter); 160: two frames per chunk."""
    torch.manual_seed(0)
    model = ActorCritic(ModelConfig(encoder=encoder, n_features=32, impala_channels=[8, 8, 8])).eval()
    x = _frames(3)
    masks = make_masks((64, 64), stride=8, radius=5)
    blurred = gaussian_blur(x, 3.0)
    fast = perturbation_scores(model, x, masks, blurred, chunk=chunk)
    net = inference_network(model, torch.rand(chunk, 3, 64, 64))  # the optimised networks the tool uses
    faster = perturbation_scores(model, x, masks, blurred, chunk=chunk, network=net)
    nhwc = perturbation_scores(model, x, masks, blurred, chunk=chunk, network=ChannelsLastNetwork(model))
    slow = loop_scores(model, x, masks, blurred)
    for t in ("actor", "critic"):
        assert fast[t].shape == faster[t].shape == nhwc[t].shape == slow[t].shape == (3, masks.shape[0])
        assert slow[t].max() > 0
        tol = 1e-5 * float(slow[t].abs().max())
        for got in (fast, faster, nhwc):
            torch.testing.assert_close(got[t], slow[t], rtol=1e-4, atol=tol)


def test_channels_last_per_channel_scores_equal_the_plain_network():
    torch.manual_seed(0)
    model = ActorCritic(ModelConfig(encoder="nature", n_features=32)).eval()
    x, masks = _frames(2), make_masks((64, 64), stride=8, radius=5)
    plain = perturbation_scores(model, x, masks, per_channel=True, chunk=48)
    nhwc = perturbation_scores(model, x, masks, per_channel=True, chunk=48, network=ChannelsLastNetwork(model))
    for t in plain:
        assert plain[t].shape == (2, 3, 64)
        torch.testing.assert_close(nhwc[t], plain[t], rtol=1e-4, atol=1e-5 * float(plain[t].abs().max()))


def test_fastest_network_measures_every_candidate_and_returns_the_best():
    model = ActorCritic(ModelConfig(encoder="nature", n_features=32)).eval()
    net, chunk, rates = fastest_network(model, _frames(1), chunks=(16, 32), samples=64)
    assert {n for n, _ in rates} == {"oneDNN graph", "channels-last"}
    assert {c for _, c in rates} <= {16, 32} and chunk in (16, 32)
    best = max(rates, key=rates.get)
    assert best[1] == chunk and isinstance(net, ChannelsLastNetwork) == (best[0] == "channels-last")
    x = _frames(3)
    with torch.no_grad():
        for got, want in zip(net(x), model(x)):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_masks_and_blur():
    masks = make_masks((64, 64), stride=4, radius=5)
    assert masks.shape == (256, 64, 64)
    assert torch.allclose(masks.amax((1, 2)), torch.ones(256))
    assert masks.min() >= 0
    # the mask at grid cell (5, 7) peaks at its centre (5*4+1.5, 7*4+1.5)
    m = masks[5 * 16 + 7]
    r, c = divmod(int(m.argmax()), 64)
    assert abs(r - 21.5) <= 1 and abs(c - 29.5) <= 1
    assert m[0, 0] == 0 and m[63, 63] == 0
    assert grid_shape((64, 64), 5) == (13, 13)
    const = torch.full((1, 3, 64, 64), 0.3)
    torch.testing.assert_close(gaussian_blur(const, 3.0), const)
    up = upsample_scores(torch.arange(16.0).reshape(1, 16), (64, 64), 16)
    assert up.shape == (1, 64, 64) and (up[0, :8, :8] == 0).all() and (up[0, 56:, 56:] == 15).all()
    assert 0 < up[0, 12, 12] < 5  # between the first centres


def test_all_methods_share_one_call_shape():
    torch.manual_seed(0)
    model = ActorCritic(ModelConfig(encoder="nature", n_features=32)).eval()
    obs = (torch.rand(2, 64, 64, 3) * 255).to(torch.uint8)  # uint8 observations work too
    opts = MethodOptions(stride=16, samples=2)
    for name in METHODS:
        maps = make_method(name, model, opts).attribute_all(obs, ("actor", "critic"))
        for t in ("actor", "critic"):
            assert maps[t].ndim == 4 and maps[t].shape[0] == 2 and maps[t].shape[2:] == (64, 64), name
            assert maps[t].shape[1] in (1, 3)
            assert (maps[t] >= 0).all() and torch.isfinite(maps[t]).all()


def test_gradient_actor_target_follows_the_given_action():
    net = RegionNet().eval()
    x = _frames(1)
    g = make_method("gradient", net)
    a0 = g.attribute(x, "actor", actions=torch.tensor([0]))
    a1 = g.attribute(x, "actor", actions=torch.tensor([1]))
    assert not torch.allclose(a0, a1)


def test_unknown_method_and_target_list_the_valid_ones():
    model = RegionNet()
    with pytest.raises(RlsightError, match="perturbation, gradient, smoothgrad, integrated-gradients, gradcam"):
        make_method("occlusion", model)
    with pytest.raises(RlsightError, match="actor, critic"):
        make_method("gradient", model).attribute(_frames(1), "policy")
    with pytest.raises(RlsightError, match="actor, critic"):
        Perturbation(model).attribute(_frames(1), "values")


# -- action-specific scores (issue 27) ---------------------------------------------------

ACTION_SCORES = ("logp", "prob", "sarfa")


@pytest.mark.parametrize("name", ["perturbation-logp", "perturbation-prob", "perturbation-sarfa",
                                  "gradient-logp", "integrated-gradients-logp"])
def test_action_specific_maps_of_a_model_that_ignores_the_input_are_exactly_zero(name):
    net = BlindNet()
    for signed in (False, True):
        maps = make_method(name, net, MethodOptions(stride=8, samples=4, signed=signed)).attribute_all(_frames())
        for t in ("actor", "critic"):
            assert maps[t].shape[0] == 2 and (maps[t] == 0).all(), (name, t, signed)


@pytest.mark.parametrize("score", ACTION_SCORES)
def test_action_specific_scores_of_a_model_that_ignores_the_input_are_exactly_zero(score):
    s = perturbation_scores(BlindNet(), _frames(), make_masks((64, 64), 8, 5), score=score,
                            actions=torch.tensor([3, 9]))
    assert s["actor"].shape == s["critic"].shape == (2, 64)
    assert (s["actor"] == 0).all() and (s["critic"] == 0).all()


@pytest.mark.parametrize("name", ["perturbation-logp", "perturbation-prob", "perturbation-sarfa"])
def test_action_specific_score_points_at_the_region_of_the_chosen_action(name):
    """Region b moves the logits as much as region a, but not p(chosen action):
    the L2 score of the logits lights up both, the action-specific scores only a."""
    net = ActionRegionNet()
    x = _frames()
    with torch.no_grad():
        assert (net(x)[0].argmax(-1) == 0).all()
    opts = MethodOptions(stride=4, radius=3)
    grown_a, grown_b = net.region(net.a, 8), net.region(net.b, 8)  # a mask's soft edge reaches ~8 px
    maps = make_method(name, net, opts).attribute_all(x)
    assert (_mass_inside(maps["actor"], grown_a) >= 0.99).all()
    assert (_mass_inside(maps["critic"], grown_b) >= 0.99).all()  # the value reads b
    l2 = make_method("perturbation", net, opts).attribute(x, "actor")
    assert (_mass_inside(l2, grown_b) >= 0.2).all()  # what an action-blind score does
    signed = make_method(name, net, MethodOptions(stride=4, radius=3, signed=True)).attribute(x, "critic")
    assert signed[:, :, grown_b].sum() > 0  # blurring b lowers mean x^2 and so the value: v - v' > 0
    # explaining action 1 instead (explicitly given) moves the actor's map to region b
    other = make_method(name, net, opts).attribute(x, "actor", actions=torch.tensor([1, 1]))
    assert (_mass_inside(other, grown_b) >= 0.99).all()


def test_gradient_logp_follows_the_log_probability():
    net = ActionRegionNet()
    g = make_method("gradient-logp", net).attribute(_frames(), "actor")
    assert (_mass_inside(g, net.region(net.a)) >= 0.99).all()
    signed = make_method("gradient-logp", net, MethodOptions(signed=True)).attribute(_frames(), "actor")
    assert (signed < 0).any() and torch.equal(signed.abs(), g)


def test_sarfa_matches_the_papers_formula():
    """Puri et al. 2020, eq. 2, written out with numpy and scipy on one pair of logits."""
    import numpy as np
    from scipy.special import softmax
    from scipy.stats import entropy

    from rlsight.explain.saliency.perturbation import Reference, _scores

    gen = torch.Generator().manual_seed(1)
    ref_logits = torch.randn(1, 15, generator=gen) * 2
    for k in range(20):
        out = ref_logits + torch.randn(1, 15, generator=gen) * (0.2 + k / 10)
        a = int(ref_logits.argmax())
        got = _scores((out, torch.zeros(1)), Reference((ref_logits, torch.zeros(1)), None, "sarfa"), ("actor",))
        p, q = softmax(ref_logits[0].double().numpy()), softmax(out[0].double().numpy())
        dp = p[a] - q[a]
        kl = entropy(np.delete(q, a), np.delete(p, a))  # KL(P'_rem || P_rem), both renormalised
        kk = 1 / (1 + kl)
        want = 2 * kk * dp / (kk + dp) if dp > 0 else 0.0
        assert float(got["actor"][0]) == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize("score", ACTION_SCORES)
@pytest.mark.parametrize("chunk, actions", [(24, None), (160, [3, 7, 0])])
def test_vectorised_action_scores_equal_per_mask_loop(score, chunk, actions):
    torch.manual_seed(0)
    model = ActorCritic(ModelConfig(encoder="nature", n_features=32)).eval()
    x = _frames(3)
    acts = None if actions is None else torch.tensor(actions)
    masks = make_masks((64, 64), stride=8, radius=5)
    blurred = gaussian_blur(x, 3.0)
    slow = loop_scores(model, x, masks, blurred, score=score, actions=acts)
    nets = (None, inference_network(model, torch.rand(chunk, 3, 64, 64)), ChannelsLastNetwork(model))
    for net in nets:
        fast = perturbation_scores(model, x, masks, blurred, chunk=chunk, network=net, score=score, actions=acts)
        for t in ("actor", "critic"):
            assert fast[t].shape == slow[t].shape == (3, 64)
            assert slow[t].abs().max() > 1e-4
            # a drop in log p(a) is the difference of two log-probabilities of size ~log(15), each
            # rounded to ~2e-7 in float32; the scores themselves are ~1e-3 for this random network
            torch.testing.assert_close(fast[t], slow[t], rtol=1e-4, atol=1e-6)


def test_unknown_score_is_named():
    with pytest.raises(RlsightError, match="l2, logp, prob, sarfa"):
        perturbation_scores(RegionNet(), _frames(1), make_masks((64, 64), 16, 5), score="kl")
    with pytest.raises(RlsightError, match="actions: 3 for 1 frames"):
        perturbation_scores(RegionNet(), _frames(1), make_masks((64, 64), 16, 5), score="logp",
                            actions=torch.tensor([0, 1, 2]))
