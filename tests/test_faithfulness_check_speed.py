"""The faithfulness check computes each method's maps once: the shortcuts give the same maps
and figures as computing everything anew."""

from __future__ import annotations

import pytest
import torch

from rlsight.config.schema import ModelConfig
from rlsight.explain.faithfulness.check import drawn_from_signed
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


def test_cascade_reuses_trained_maps_and_stops_after(model_frames):
    model, frames, actions = model_frames
    signed = MethodOptions(stride=8, samples=4, signed=True)
    full = cascading_randomisation(model, frames, "perturbation-logp", options=OPTS, actions=actions, max_steps=3)
    method = make_method("perturbation-logp", model, signed)
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
