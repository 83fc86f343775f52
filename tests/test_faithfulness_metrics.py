"""Faithfulness metrics (issue 27): deletion/insertion, baselines, bootstrap, cascading
randomisation, max-sensitivity; small hand-built models, a few seconds in all."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlsight.config import ModelConfig
from rlsight.errors import RlsightError
from rlsight.explain.faithfulness.baselines import edge_maps, random_maps
from rlsight.explain.faithfulness.bootstrap import bootstrap_ci
from rlsight.explain.faithfulness.deletion import deletion_insertion, pixel_ranks
from rlsight.explain.faithfulness.randomisation import (
    CASCADE_STATS,
    cascading_randomisation,
    layer_groups,
    map_correlations,
    randomisation_check,
)
from rlsight.explain.faithfulness.stability import max_sensitivity
from rlsight.explain.saliency.methods import SaliencyMethod, make_method
from rlsight.explain.saliency.perturbation import gaussian_blur
from rlsight.models import ActorCritic
from tests.saliency_helpers import ActionRegionNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _frames(n: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _region_map(net: ActionRegionNet, box, n: int, seed: int = 1) -> torch.Tensor:
    """1 on ``box``, 0 elsewhere, plus a little noise so that the order inside is not all ties."""
    noise = 0.01 * torch.rand(n, 1, 64, 64, generator=torch.Generator().manual_seed(seed))
    return net.region(box).float().expand(n, 1, 64, 64) + noise


# -- deletion / insertion ---------------------------------------------------------------

@pytest.mark.parametrize("target, own, other", [("actor", "a", "b"), ("critic", "b", "a")])
def test_deletion_auc_far_below_random_for_the_region_the_model_reads(target, own, other):
    """Action 0's probability reads region a, the value region b (ActionRegionNet). A map on
    the region the output reads deletes it first: AUC far below a random order's and an edge
    map's; a map pointing elsewhere does not beat them (the metric fails it)."""
    net = ActionRegionNet()
    x = _frames()
    right = deletion_insertion(net, x, _region_map(net, getattr(net, own), 8), target)
    wrong = deletion_insertion(net, x, _region_map(net, getattr(net, other), 8), target)
    rand = deletion_insertion(net, x, random_maps(x, seed=0), target)
    edge = deletion_insertion(net, x, edge_maps(x), target)
    assert right.deletion.shape == right.insertion.shape == (8, 21)
    assert right.valid.all()
    r, w, b, e = (c.deletion_auc.mean().item() for c in (right, wrong, rand, edge))
    assert r < 0.4 * b and r < 0.4 * e
    assert w >= 0.95 * b and w >= 0.95 * e
    # insertion: revealing the right region first restores the output fastest
    assert right.insertion_auc.mean() > 1.5 * rand.insertion_auc.mean()
    assert wrong.insertion_auc.mean() <= 1.05 * rand.insertion_auc.mean()


def test_curves_equal_a_one_input_at_a_time_reference():
    """Every (frame, step) row lands in the right place: compare with deletion and insertion
    done pixel set by pixel set, one forward pass each."""
    net = ActionRegionNet()
    x = _frames(3)
    maps = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(5))  # no ties
    actions = torch.tensor([0, 2, 1])
    steps = 5
    for chunk in (4, 64):  # slices of one frame's 10 rows; several frames per chunk
        for target in ("actor", "critic"):
            got = deletion_insertion(net, x, maps, target, actions=actions, steps=steps, chunk=chunk,
                                     network=net)
            blur = gaussian_blur(x, 3.0)
            order = maps.amax(1).flatten(1).argsort(1, descending=True)
            want_d, want_i = torch.empty(3, steps + 1), torch.empty(3, steps + 1)
            with torch.no_grad():
                for i in range(3):
                    outs = []
                    for s in range(steps + 1):
                        top = order[i, : round(s * 4096 / steps)]
                        d, ins = x[i].clone().flatten(1), blur[i].clone().flatten(1)
                        d[:, top] = blur[i].flatten(1)[:, top]
                        ins[:, top] = x[i].flatten(1)[:, top]
                        outs.append(torch.stack([d, ins]).reshape(2, 3, 64, 64))
                    logits, value = net(torch.cat(outs))
                    if target == "actor":
                        q = logits.softmax(-1)[:, actions[i]]
                    else:
                        q = (value - value[2 * steps]) / (value[0] - value[2 * steps])
                    want_d[i], want_i[i] = q[0::2], q[1::2]
            torch.testing.assert_close(got.deletion, want_d, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(got.insertion, want_i, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(got.deletion_auc, torch.trapezoid(want_d, dx=1 / steps, dim=1))


def test_curves_are_the_same_with_every_network_kind():
    """The frozen oneDNN graph (the CPU default) and the channels-last copy give the eager
    model's curves: the batches are built right in either layout."""
    from rlsight.explain.saliency.perturbation import ChannelsLastNetwork, inference_network

    model = _tiny("nature")
    with torch.no_grad():
        model.value.weight.mul_(100)  # a value that blurring moves well above min_value_change
    x, maps = _frames(3), random_maps(_frames(3), seed=1)
    want = {t: deletion_insertion(model, x, maps, t, steps=6, chunk=8, network=model) for t in ("actor", "critic")}
    for net in (inference_network(model, x[:8].contiguous()), ChannelsLastNetwork(model)):
        for chunk in (8, 64):
            for t in ("actor", "critic"):
                got = deletion_insertion(model, x, maps, t, steps=6, chunk=chunk, network=net)
                assert got.valid.all()
                torch.testing.assert_close(got.deletion, want[t].deletion, rtol=1e-3, atol=1e-5)
                torch.testing.assert_close(got.insertion, want[t].insertion, rtol=1e-3, atol=1e-5)


def test_ties_are_broken_in_a_fixed_random_order_not_the_scan_order():
    flat = torch.zeros(2, 1, 64, 64)
    r = pixel_ranks(flat, seed=0)
    assert torch.equal(r, pixel_ranks(flat, seed=0)) and torch.equal(r[0], r[1])
    assert sorted(r[0].flatten().tolist()) == list(range(4096))
    first = r[0] < 2048  # the first half of the deletion order is spread over the whole frame
    assert 0.4 < first[:32].float().mean() < 0.6
    m = torch.zeros(1, 1, 64, 64)
    m[0, 0, 10, 20] = 5.0
    assert pixel_ranks(m)[0, 10, 20] == 0


def test_critic_curves_are_nan_where_blurring_leaves_the_value_unchanged():
    net = ActionRegionNet()
    x = _frames(2)
    x[1] = 0.5  # a flat frame: its blur is itself
    c = deletion_insertion(net, x, random_maps(x), "critic", steps=4)
    assert c.valid.tolist() == [True, False]
    assert torch.isnan(c.deletion[1]).all() and torch.isfinite(c.deletion[0]).all()
    assert c.deletion[0, 0] == pytest.approx(1.0) and c.deletion[0, -1] == pytest.approx(0.0, abs=1e-6)


def test_deletion_rejects_bad_input():
    net, x = ActionRegionNet(), _frames(2)
    with pytest.raises(RlsightError, match="actor, critic"):
        deletion_insertion(net, x, random_maps(x), "policy")
    with pytest.raises(RlsightError, match="maps of shape"):
        deletion_insertion(net, x, torch.rand(3, 1, 64, 64), "actor")
    with pytest.raises(RlsightError, match="steps 0"):
        deletion_insertion(net, x, random_maps(x), "actor", steps=0)


def test_uint8_frames_give_the_float_frames_curves():
    net = ActionRegionNet()
    obs = (torch.rand(2, 64, 64, 3, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    maps = random_maps(obs)
    a = deletion_insertion(net, obs, maps, "actor", steps=4)
    b = deletion_insertion(net, obs.permute(0, 3, 1, 2).float() / 255, maps, "actor", steps=4)
    torch.testing.assert_close(a.deletion, b.deletion)


# -- baselines --------------------------------------------------------------------------

def test_edge_map_is_large_on_edges_and_zero_on_flat_areas():
    x = torch.zeros(1, 3, 64, 64)
    x[:, 1, :, 32:] = 1.0  # a vertical edge in the green channel
    e = edge_maps(x)
    assert e.shape == (1, 1, 64, 64)
    assert (e[0, 0, :, 31:33] == 4).all()  # Sobel: 1 + 2 + 1
    assert e[0, 0, :, :30].abs().max() == 0 and e[0, 0, :, 34:].abs().max() == 0
    obs = (x.permute(0, 2, 3, 1) * 255).to(torch.uint8)
    torch.testing.assert_close(edge_maps(obs), e)


def test_random_maps_are_seeded():
    x = _frames(2)
    assert random_maps(x, 0).shape == (2, 1, 64, 64)
    assert torch.equal(random_maps(x, 3), random_maps(x, 3)) and not torch.equal(random_maps(x, 3), random_maps(x, 4))


# -- bootstrap --------------------------------------------------------------------------

def test_bootstrap_interval_contains_the_mean_and_shrinks_with_more_frames():
    rng = np.random.default_rng(0)
    small = bootstrap_ci(rng.normal(1.0, 1.0, 32), n_resamples=500)
    large = bootstrap_ci(rng.normal(1.0, 1.0, 512), n_resamples=500)
    for ci in (small, large):
        assert ci.low < ci.mean < ci.high
    assert (large.high - large.low) < 0.4 * (small.high - small.low)  # ~ 1/sqrt(16) = 0.25
    assert large.low < 1.0 < large.high
    assert small.as_dict() == {"mean": small.mean, "low": small.low, "high": small.high, "n": 32,
                               "confidence": 0.95}
    assert bootstrap_ci(rng.normal(size=32), seed=1) != bootstrap_ci(rng.normal(size=32), seed=2)


def test_bootstrap_leaves_nan_out_and_handles_tiny_samples():
    ci = bootstrap_ci([1.0, np.nan, 3.0, 2.0])
    assert ci.n == 3 and ci.mean == pytest.approx(2.0)
    assert np.isnan(bootstrap_ci([1.0]).low) and bootstrap_ci([1.0]).mean == 1.0
    assert bootstrap_ci([]).n == 0
    assert bootstrap_ci([2.0, 2.0, 2.0]).as_dict()["low"] == 2.0
    with pytest.raises(RlsightError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=95)


# -- model randomisation ----------------------------------------------------------------

class EdgeMethod(SaliencyMethod):
    """An edge detector posing as a saliency method: it never looks at the model."""

    name = "edge"

    def attribute(self, frames, target="actor", actions=None):
        return edge_maps(frames)


def _tiny(encoder: str = "impala") -> ActorCritic:
    torch.manual_seed(0)
    return ActorCritic(ModelConfig(encoder=encoder, n_features=32, impala_channels=[8, 8, 8])).eval()


def test_layer_groups_go_from_the_heads_down_the_encoder():
    names = [g for g, _ in layer_groups(_tiny("impala"))]
    assert names == ["heads", "encoder.fc", "encoder.block3", "encoder.block2", "encoder.block1"]
    assert layer_groups(_tiny("impala"))[0][1] == ["policy", "value"]
    nature = [g for g, _ in layer_groups(_tiny("nature"))]
    assert nature == ["heads", "encoder.layers.7", "encoder.layers.4", "encoder.layers.2", "encoder.layers.0"]
    merged = layer_groups(_tiny("impala"), max_steps=3)
    assert [g for g, _ in merged] == ["heads", "encoder.fc", "encoder.block3..encoder.block1"]
    assert merged[-1][1] == ["encoder.block3", "encoder.block2", "encoder.block1"]


def test_randomisation_flags_an_edge_detector_posing_as_a_method():
    model, x = _tiny(), _frames(3)
    top = randomisation_check(model, x, EdgeMethod)
    assert top.method == "edge" and top.mean["actor"] == pytest.approx(1.0)
    steps = cascading_randomisation(model, x, EdgeMethod, ("actor",))
    assert len(steps) == 5
    for st in steps:
        for stat in CASCADE_STATS:
            assert st.per_frame["actor"][stat] == pytest.approx(np.ones(3)), (st.group, stat)


def test_cascading_randomisation_is_cumulative_from_the_top():
    model = _tiny()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []

    def probe(m):
        changed = {k.split(".")[0] if k.startswith(("policy", "value")) else ".".join(k.split(".")[:2])
                   for k, v in m.state_dict().items() if not torch.equal(v, original[k])}
        seen.append(changed)
        return EdgeMethod(m)

    steps = cascading_randomisation(model, _frames(2), probe, ("critic",))
    assert seen[0] == set()  # the trained model
    assert seen[1] == {"policy", "value"}
    assert seen[2] == {"policy", "value", "encoder.fc"}
    assert seen[-1] == {"policy", "value", "encoder.fc", "encoder.block3", "encoder.block2", "encoder.block1"}
    assert steps[-1].randomised == ["policy", "value", "encoder.fc", "encoder.block3", "encoder.block2",
                                    "encoder.block1"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, original[k])  # the model itself is untouched


def test_correlations_over_nonzero_pixels_and_signs():
    """Shared zeros inflate whole-frame correlations; signed maps that disagree only in sign
    correlate -1 signed and +1 in absolute value."""
    gen = torch.Generator().manual_seed(0)
    a = torch.zeros(1, 1, 64, 64)
    b = torch.zeros(1, 1, 64, 64)
    a[0, 0, :8] = torch.rand(8, 64, generator=gen)
    b[0, 0, :8] = torch.rand(8, 64, generator=gen)  # unrelated values on the same support
    c = map_correlations(a, b)
    assert c["abs"][0] > 0.6 and abs(c["abs_nonzero"][0]) < 0.1
    s = map_correlations(a - 0.5 * (a > 0), -(a - 0.5 * (a > 0)))
    assert s["signed_nonzero"][0] == pytest.approx(-1.0) and s["abs_nonzero"][0] == pytest.approx(1.0)


def test_cascade_of_a_gradient_method_drops_below_the_edge_detector():
    model, x = _tiny(), _frames(3)
    steps = cascading_randomisation(model, x, "gradient", ("actor",))
    last = steps[-1].mean()["actor"]
    assert set(last) == set(CASCADE_STATS)
    assert last["abs_nonzero"] < 0.9 and last["signed_nonzero"] < 0.9


# -- stability --------------------------------------------------------------------------

def test_max_sensitivity_of_a_linear_map_is_the_relative_noise():
    """The gradient of 40 * mean(x^2) over region a is 80 x / |a| there: the map's relative change
    is ||u_a|| / ||x_a|| for the noise u."""
    net = ActionRegionNet()
    x = 0.1 + 0.8 * _frames(2)  # no clipping at radius 0.02
    method = make_method("gradient", net)
    gen = torch.Generator().manual_seed(3)
    noise = (torch.rand(4, 2, 3, 64, 64, generator=gen) * 2 - 1) * 0.02
    got = max_sensitivity(method, x, "actor", noise=noise)
    inside = net.region(net.a)
    want = (noise[:, :, :, inside].flatten(2).norm(dim=2) / x[:, :, inside].flatten(1).norm(dim=1)).amax(0)
    torch.testing.assert_close(got.float(), want, rtol=1e-4, atol=1e-7)
    # seeded draws: same seed, same result; radius scales it
    a = max_sensitivity(method, x, "actor", samples=4, seed=1)
    assert torch.equal(a, max_sensitivity(method, x, "actor", samples=4, seed=1))
    assert (max_sensitivity(method, x, "actor", radius=0.04, samples=4, seed=1) > 1.5 * a).all()


def test_max_sensitivity_leaves_out_copies_that_change_the_action():
    net = ActionRegionNet()
    x = 0.1 + 0.8 * _frames(1)
    method = make_method("gradient", net)
    small = (torch.rand(1, 1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1) * 0.02
    kill = torch.zeros(1, 1, 3, 64, 64)
    kill[..., net.region(net.a)] = -1.0  # blanks region a: action 0 loses to the constant logits
    both = max_sensitivity(method, x, "actor", noise=torch.cat([small, kill]))
    assert both == max_sensitivity(method, x, "actor", noise=small)
    assert torch.isnan(max_sensitivity(method, x, "actor", noise=kill)).all()


# -- cross-checks against Quantus -------------------------------------------------------

class _Logits(torch.nn.Module):
    """The policy logits alone: the classifier shape Quantus expects."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)[0]


def test_deletion_curve_matches_quantus_pixel_flipping():
    """Quantus' PixelFlipping with a black baseline and the class probability = our deletion
    curve (after step 0) with a zero baseline. Quantus flips each channel as its own feature
    (a one-channel map is broadcast to three) and wants a step that divides H x W: at 256
    features a step, every third of its steps ends on 256 whole pixels, one of our 16 steps."""
    quantus = pytest.importorskip("quantus")
    net = ActionRegionNet()
    x = _frames(4)
    maps = torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(2))  # no ties
    actions = torch.tensor([0, 2, 0, 5])
    ours = deletion_insertion(net, x, maps, "actor", actions=actions, steps=16, baseline=torch.zeros_like(x),
                              network=net)
    metric = quantus.PixelFlipping(features_in_step=256, perturb_baseline="black", disable_warnings=True)
    theirs = metric(model=_Logits(net).eval(), x_batch=x.numpy(), y_batch=actions.numpy(),
                    a_batch=maps.numpy(), channel_first=True, softmax=True, device="cpu")
    theirs = np.asarray(theirs)
    assert theirs.shape == (4, 48)
    np.testing.assert_allclose(theirs[:, 2::3], ours.deletion[:, 1:].numpy(), rtol=1e-4, atol=1e-6)
    assert (ours.deletion.amax(1) - ours.deletion.amin(1) > 0.01).all()  # the curves do move


def test_max_sensitivity_matches_quantus_on_the_same_noise():
    """Quantus' MaxSensitivity draws np.random.uniform(-r, r, (N, C*H*W)) per sample: seed the
    global generator, give our function the same draws, and compare (no clipping needed in
    [0.1, 0.9]; no copy changes the action here, where Quantus' NaN rule differs from ours)."""
    quantus = pytest.importorskip("quantus")
    net = ActionRegionNet()
    x = 0.1 + 0.8 * _frames(3)
    method = make_method("gradient", net)
    actions = torch.zeros(3, dtype=torch.long)
    samples, radius = 4, 0.02
    np.random.seed(7)
    noise = np.stack([np.random.uniform(-radius, radius, (3, 3 * 64 * 64)) for _ in range(samples)])
    ours = max_sensitivity(method, x, "actor", actions=actions,
                           noise=torch.from_numpy(noise).float().reshape(samples, 3, 3, 64, 64))

    def explain(model, inputs, targets, **kwargs):
        return method.attribute(torch.as_tensor(inputs).float(), "actor",
                                actions=torch.as_tensor(targets)).numpy()

    np.random.seed(7)
    metric = quantus.MaxSensitivity(nr_samples=samples, lower_bound=radius, disable_warnings=True,
                                    return_nan_when_prediction_changes=True)
    a = method.attribute(x, "actor", actions=actions).numpy()
    theirs = metric(model=_Logits(net).eval(), x_batch=x.numpy(), y_batch=actions.numpy(), a_batch=a,
                    explain_func=explain, channel_first=True, device="cpu")
    assert np.isfinite(theirs).all()
    np.testing.assert_allclose(np.asarray(theirs), ours.numpy(), rtol=1e-3)
