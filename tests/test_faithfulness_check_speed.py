"""The faithfulness check computes each method's maps once: the shortcuts give the same maps
and figures as computing everything anew."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pytest
import torch

from rlsight.config.schema import ModelConfig
from rlsight.explain.faithfulness.check import drawn_from_signed, to_json
from rlsight.explain.faithfulness.randomisation import cascading_randomisation
from rlsight.explain.faithfulness.stability import max_sensitivity, max_sensitivity_all
from rlsight.explain.saliency.methods import METHODS, MethodOptions, make_method
from rlsight.models import build_model

OPTS = MethodOptions(stride=8, samples=4)


@pytest.fixture(scope="module")
def model_frames():
    torch.manual_seed(0)
    model = build_model(ModelConfig(encoder="nature")).eval()
    frames = torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    frames[:, 20:40] = 0  # exact zeros, as on starpilot's black background
    actions = torch.tensor([0, 3, 7])
    return model, frames, actions


@pytest.mark.parametrize("name", METHODS)
def test_drawn_maps_from_signed_equal_the_default_maps(model_frames, name):
    model, frames, actions = model_frames
    signed = make_method(name, model, MethodOptions(stride=8, samples=4, signed=True)).attribute_all(
        frames, actions=actions)
    default = make_method(name, model, OPTS).attribute_all(frames, actions=actions)
    for t, m in signed.items():
        drawn = drawn_from_signed(name, t, m)
        if name.removesuffix("-logp") in ("smoothgrad", "gradcam"):
            assert drawn is None  # not a function of the signed map: the check computes it
        else:
            assert drawn is not None
            torch.testing.assert_close(drawn, default[t], rtol=1e-5, atol=1e-6)


def test_variant_shares_the_picked_network(model_frames):
    model, frames, actions = model_frames
    first = make_method("perturbation-logp", model, OPTS)
    first.attribute_all(frames, actions=actions)
    other = first.variant("sarfa", False)
    assert other._network is first._network and other.chunk == first.chunk
    fresh = make_method("perturbation-sarfa", model, OPTS)
    for t, m in other.attribute_all(frames, actions=actions).items():
        torch.testing.assert_close(m, fresh.attribute_all(frames, actions=actions)[t], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["perturbation-logp", "gradient"])
def test_max_sensitivity_all_equals_one_target_at_a_time(model_frames, name):
    model, frames, actions = model_frames
    method = make_method(name, model, OPTS)
    both = max_sensitivity_all(method, frames, actions=actions, samples=3, radius=0.05)
    for t in ("actor", "critic"):
        one = max_sensitivity(method, frames, t, actions=actions if t == "actor" else None, samples=3, radius=0.05)
        torch.testing.assert_close(both[t], one, rtol=1e-5, atol=1e-7, equal_nan=True)


def test_max_sensitivity_with_the_maps_given_equals_computing_them(model_frames):
    model, frames, actions = model_frames
    name = "integrated-gradients"
    method = make_method(name, model, OPTS)
    base = method.attribute_all(frames, actions=actions)
    want = max_sensitivity_all(method, frames[:2], actions=actions[:2], samples=3, radius=0.05)
    got = max_sensitivity_all(method, frames[:2], actions=actions[:2], samples=3, radius=0.05,
                              base_maps={t: m[:2] for t, m in base.items()})
    for t in want:
        torch.testing.assert_close(got[t], want[t], rtol=1e-4, atol=1e-6, equal_nan=True)
    wrong = max_sensitivity_all(method, frames[:2], actions=actions[:2], samples=3, radius=0.05,
                                base_maps={t: m[1:3] for t, m in base.items()})  # another frame's maps
    assert not torch.allclose(wrong["actor"], want["actor"], equal_nan=True)


def test_cascade_reuses_trained_maps_and_stops_after(model_frames):
    model, frames, actions = model_frames
    signed = MethodOptions(stride=8, samples=4, signed=True)
    method = make_method("perturbation-logp", model, signed)
    # one method for both: perturbation picks its network by timing, and two picks may differ
    # in float rounding, which moves the rank correlations of a random model's tiny scores
    full = cascading_randomisation(model, frames, method, options=OPTS, actions=actions, max_steps=3)
    trained = method.attribute_all(frames, actions=actions)
    top = cascading_randomisation(model, frames, method, options=OPTS, actions=actions, max_steps=3,
                                  trained=trained, stop_after=1)
    assert len(full) == 3 and len(top) == 1 and top[0].group == full[0].group
    for t in ("actor", "critic"):
        for k, v in full[0].per_frame[t].items():
            torch.testing.assert_close(torch.as_tensor(top[0].per_frame[t][k]), torch.as_tensor(v),
                                       rtol=1e-6, atol=1e-6, equal_nan=True)


def test_cascade_refuses_unsigned_method(model_frames):
    from rlsight.errors import RlsightError

    model, frames, actions = model_frames
    with pytest.raises(RlsightError, match="signed"):
        cascading_randomisation(model, frames, make_method("gradient", model, OPTS), actions=actions)


# -- shared work: the same figures as computing every piece on its own --------------------

def test_shared_perturbation_passes_give_each_score_its_own_maps(model_frames):
    """One set of forward passes (``share_outputs``) serves every score, on every model the
    cascade makes: the maps equal those of a method computing its own passes."""
    model, frames, actions = model_frames
    cache: dict = {}
    first = make_method("perturbation", model, OPTS).share_outputs(cache)
    first.attribute_all(frames, actions=actions)
    assert len(cache) == 1
    for score in ("l2", "logp", "prob", "sarfa"):
        for signed in (False, True):
            shared = first.variant(score, signed)
            own = make_method("perturbation", model, OPTS).variant(score, signed)  # no cache
            got, want = shared.attribute_all(frames, actions=actions), own.attribute_all(frames, actions=actions)
            for t in want:
                torch.testing.assert_close(got[t], want[t], rtol=1e-5, atol=1e-6)
    assert len(cache) == 1  # no further passes
    fresh = copy.deepcopy(model)
    torch.nn.init.normal_(fresh.policy.weight)
    got = first.for_model(fresh).attribute_all(frames, actions=actions)
    want = make_method("perturbation", fresh, OPTS).attribute_all(frames, actions=actions)
    assert len(cache) == 2  # another model: its own passes
    for t in want:
        torch.testing.assert_close(got[t], want[t], rtol=1e-5, atol=1e-6)


def test_curves_with_shared_ends_and_without_insertion_equal_the_full_curves(model_frames):
    from rlsight.explain.faithfulness.baselines import random_maps
    from rlsight.explain.faithfulness.deletion import (
        deletion_insertion,
        deletion_insertion_all,
        end_outputs,
    )
    from rlsight.explain.saliency.methods import as_float_frames
    from rlsight.explain.saliency.perturbation import gaussian_blur

    model, frames, actions = model_frames
    with torch.no_grad():
        model = copy.deepcopy(model)
        model.value.weight.mul_(100)  # a value that blurring moves
    maps = random_maps(frames, seed=3)
    x = as_float_frames(model, frames)
    ends = end_outputs(model, x, gaussian_blur(x, 3.0), model, chunk=16)
    both = deletion_insertion_all(model, frames, maps, ("actor", "critic"), actions, steps=5, network=model,
                                  chunk=16, ends=ends)
    only_del = deletion_insertion_all(model, frames, maps, ("actor", "critic"), actions, steps=5, network=model,
                                      chunk=16, insertion=False)
    for t in ("actor", "critic"):
        want = deletion_insertion(model, frames, maps, t, actions if t == "actor" else None, steps=5,
                                  network=model, chunk=16)
        assert want.valid.all()
        for got in (both[t], only_del[t]):
            torch.testing.assert_close(got.deletion, want.deletion, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(got.deletion_auc, want.deletion_auc, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(both[t].insertion, want.insertion, rtol=1e-5, atol=1e-6)
        assert torch.isnan(only_del[t].insertion_auc).all()


def _entries_equal(a: dict, b: dict) -> None:
    """Equal but for ``fps`` and float rounding (perturbation picks its network by timing)."""
    def close(x, y, where):
        if isinstance(x, dict):
            assert set(x) == set(y), where
            for k in x:
                close(x[k], y[k], f"{where}/{k}")
        elif isinstance(x, list):
            assert len(x) == len(y), where
            for i, (p, q) in enumerate(zip(x, y)):
                close(p, q, f"{where}[{i}]")
        elif isinstance(x, float):
            assert y is not None and abs(x - y) <= 1e-3 * max(1.0, abs(y)), f"{where}: {x} != {y}"
        else:
            assert x == y, f"{where}: {x} != {y}"
    strip = [{k: v for k, v in e.items() if k != "fps"} for e in (a, b)]
    close(*(json.loads(to_json(e)) for e in strip), "")


@pytest.mark.parametrize("methods", [["gradient", "gradient-logp"],
                                     ["perturbation", "perturbation-logp", "perturbation-prob", "perturbation-sarfa"]])
def test_check_with_shared_work_equals_each_method_checked_alone(model_frames, methods):
    """The check shares critic maps (``critic_key``) and perturbation passes between methods;
    every method's entry is the one it gets when checked alone."""
    from rlsight.explain.faithfulness.check import score_methods
    from rlsight.explain.saliency.options import CheckOptions

    model, frames, actions = model_frames
    other = build_model(ModelConfig(encoder="nature")).eval()
    states = SimpleNamespace(obs=frames.numpy(), actions=actions.numpy())
    opts = CheckOptions(resamples=50, stability_samples=2, stability_frames=2, quick_stability_frames=2,
                        deletion_steps=4, cascade_steps=2)
    together = score_methods(model, states, methods, ("actor", "critic"), other, False, OPTS, opts)
    for m in methods:
        alone = score_methods(model, states, [m], ("actor", "critic"), other, False, OPTS, opts)[m]
        for t in ("actor", "critic"):
            _entries_equal(together[m][t], alone[t])
        assert together[m]["actor"]["fps"] > 0 and together[m]["critic"]["fps"] > 0


def test_check_of_the_critic_alone_copies_a_shared_critic(model_frames):
    """With the critic as the only target, a method whose critic maps were scored already
    (``critic_key``) gets that entry, without computing anything."""
    from rlsight.explain.faithfulness.check import score_methods
    from rlsight.explain.saliency.options import CheckOptions

    model, frames, actions = model_frames
    states = SimpleNamespace(obs=frames.numpy(), actions=actions.numpy())
    opts = CheckOptions(resamples=50, stability_samples=2, stability_frames=2, quick_stability_frames=2,
                        deletion_steps=4, cascade_steps=2)
    for first, second in (("gradient", "gradient-logp"), ("perturbation-logp", "perturbation-sarfa")):
        res = score_methods(model, states, [first, second], ("critic",), None, True, OPTS, opts)
        assert set(res[second]) == {"critic"}
        _entries_equal(res[second]["critic"], res[first]["critic"])
        assert res[second]["critic"]["fps"] > 0


def test_integrated_gradients_from_the_blurred_frame(model_frames):
    """``ig_baseline="blur"``: attributions are (frame - blur) x the averaged gradient, so a flat
    frame (its own blur) gets none, where the black baseline gives some; a bad name is refused."""
    from rlsight.errors import RlsightError

    model, _, _ = model_frames
    flat = torch.full((2, 64, 64, 3), 120, dtype=torch.uint8)
    blur = make_method("integrated-gradients", model, MethodOptions(samples=4, ig_baseline="blur"))
    black = make_method("integrated-gradients", model, MethodOptions(samples=4))
    for t in ("actor", "critic"):
        assert blur.attribute(flat, t).abs().max() < 1e-6
        assert black.attribute(flat, t).abs().max() > 1e-4
    with pytest.raises(RlsightError, match="ig_baseline 'mean'.*black, blur"):
        make_method("integrated-gradients", model, MethodOptions(ig_baseline="mean"))


@pytest.mark.parametrize(("samples", "chunk"), [(4, 2), (5, 2)])  # one partition of samples, and a remainder
def test_smoothgrad_signed_and_drawn_from_one_pass_equal_two_calls(model_frames, samples, chunk):
    """The check takes SmoothGrad's signed and drawn maps from one set of noisy gradients;
    each is bit for bit the map of its own call."""
    model, frames, actions = model_frames
    opts = MethodOptions(samples=samples, chunk=chunk)
    sg = make_method("smoothgrad", model, MethodOptions(samples=samples, chunk=chunk, signed=True))
    for t in ("actor", "critic"):
        signed, drawn = sg.attribute_signed_and_drawn(frames, t, actions)
        assert torch.equal(signed, sg.attribute(frames, t, actions))
        assert torch.equal(drawn, make_method("smoothgrad", model, opts).attribute(frames, t, actions))
        assert not torch.equal(drawn, signed.abs())  # the drawn map is not the signed one's size


@pytest.mark.parametrize("quick", [False, True])
def test_check_with_the_cut_cascade_equals_the_check_without(model_frames, monkeypatch, quick):
    """The perturbation methods' cascade from the cut network (``stages.prefill_cascade``)
    gives the entries of the check that runs each step's whole model."""
    import rlsight.explain.faithfulness.check as check
    from rlsight.explain.saliency.options import CheckOptions

    model, frames, actions = model_frames
    states = SimpleNamespace(obs=frames.numpy(), actions=actions.numpy())
    opts = CheckOptions(resamples=50, stability_samples=2, stability_frames=2, quick_stability_frames=2,
                        deletion_steps=4, cascade_steps=3)
    eager = MethodOptions(stride=8, samples=4, chunk=64)
    methods = ["perturbation", "perturbation-sarfa"]
    calls = []
    real = check.prefill_cascade
    monkeypatch.setattr(check, "prefill_cascade", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    cut = check.score_methods(model, states, methods, ("actor", "critic"), None, quick, eager, opts)
    assert calls and calls[0] is not None  # the cut ran
    monkeypatch.setattr(check, "prefill_cascade", lambda *a, **k: None)
    whole = check.score_methods(model, states, methods, ("actor", "critic"), None, quick, eager, opts)
    for m in methods:
        for t in ("actor", "critic"):
            _entries_equal(cut[m][t], whole[m][t])
