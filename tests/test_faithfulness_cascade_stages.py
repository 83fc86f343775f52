"""Cascading randomisation with the trained lower layers computed once (``faithfulness.stages``)
gives the same outputs, maps and correlations as running each step's whole model."""

from __future__ import annotations

import pytest
import torch

from rlsight.config.schema import ModelConfig
from rlsight.explain.faithfulness.randomisation import cascading_randomisation, layer_groups
from rlsight.explain.faithfulness.stages import (
    CascadeRunner,
    cascade_models,
    prefill_cascade,
    stage_modules,
)
from rlsight.explain.saliency.methods import Perturbation
from rlsight.models import build_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(encoder: str) -> torch.nn.Module:
    """A small network of each architecture (the cut does not depend on the widths)."""
    torch.manual_seed(0)
    return build_model(ModelConfig(encoder=encoder, n_features=32, impala_channels=[4, 8, 8])).eval()


@pytest.mark.parametrize("encoder", ["nature", "impala"])
@pytest.mark.parametrize("max_steps", [6, 3, 2])
def test_runner_outputs_equal_each_step_model(encoder, max_steps):
    """Eager stages: bit for bit the whole models' outputs, at every cascade depth."""
    model = _model(encoder)
    groups = layer_groups(model, max_steps)
    stages = stage_modules(model, groups)
    assert stages is not None and len(stages) == len(groups)
    models = cascade_models(model, groups, seed=0, steps=len(groups))
    random = stage_modules(models[-1], groups)
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    for steps in range(1, len(groups) + 1):
        got = CascadeRunner(stages, random, steps, x[:2], "eager")(x)
        with torch.no_grad():
            want = [model(x), *(m(x) for m in models[:steps])]
        assert len(got) == steps + 1
        for (gl, gv), (wl, wv) in zip(got, want):
            assert torch.equal(gl, wl) and torch.equal(gv, wv)


@pytest.mark.parametrize("network", ["onednn", "channels-last"])
def test_runner_in_the_fast_layouts_agrees_to_float_rounding(network):
    model = _model("impala")
    groups = layer_groups(model)
    models = cascade_models(model, groups, seed=0, steps=len(groups))
    runner = CascadeRunner(stage_modules(model, groups), stage_modules(models[-1], groups), len(groups),
                           torch.rand(2, 3, 64, 64), network)
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    got = runner(x.contiguous(memory_format=torch.channels_last) if runner.channels_last else x)
    with torch.no_grad():
        want = [model(x), *(m(x) for m in models)]
    for (gl, gv), (wl, wv) in zip(got, want):
        torch.testing.assert_close(gl, wl, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(gv, wv, rtol=1e-4, atol=1e-5)


def test_cascade_models_are_the_cascades_models():
    """Drawn as ``cascading_randomisation`` draws them: a broken seed or order changes the weights."""
    from rlsight.explain.saliency.methods import fingerprint

    model = _model("nature")
    groups = layer_groups(model)
    a = cascade_models(model, groups, seed=0, steps=3)
    b = cascade_models(model, groups, seed=0, steps=3)
    c = cascade_models(model, groups, seed=1, steps=3)
    fa = [fingerprint(*m.parameters()) for m in a]
    assert fa == [fingerprint(*m.parameters()) for m in b]
    assert all(x != y for x, y in zip(fa, [fingerprint(*m.parameters()) for m in c]))
    assert len(set(fa)) == 3 and fingerprint(*model.parameters()) not in fa


@pytest.mark.parametrize("encoder", ["nature", "impala"])
@pytest.mark.parametrize("stop_after", [None, 1])
def test_prefilled_cascade_gives_the_same_maps_and_correlations(encoder, stop_after):
    """``prefill_cascade`` stores every step's passes; the cascade then computes none itself,
    and its maps and correlations are those of computing each step's model on its own."""
    model = _model(encoder)
    frames = torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    frames[:, 20:40] = 0  # exact zeros, as on starpilot's black background
    actions = torch.tensor([0, 3, 7])

    def method(cache):
        m = Perturbation(model, stride=8, score="logp", signed=True, optimize=False)
        return m.share_outputs(cache) if cache is not None else m
    cache: dict = {}
    fast = method(cache)
    assert prefill_cascade(fast, model, frames, max_steps=6, seed=0, stop_after=stop_after) is not None
    n_steps = len(layer_groups(model)) if stop_after is None else 1
    assert len(cache) == n_steps + 1  # the trained model and every step
    assert prefill_cascade(fast, model, frames, max_steps=6, seed=0, stop_after=stop_after) is None  # stored
    plain = method(None)
    trained_fast = fast.attribute_all(frames, actions=actions)
    trained_plain = plain.attribute_all(frames, actions=actions)
    for t in trained_plain:
        assert torch.equal(trained_fast[t], trained_plain[t])
    got = cascading_randomisation(model, frames, fast, actions=actions, trained=trained_fast, stop_after=stop_after)
    assert len(cache) == n_steps + 1  # every pass came from the store
    want = cascading_randomisation(model, frames, plain, actions=actions, trained=trained_plain,
                                   stop_after=stop_after)
    assert [s.group for s in got] == [s.group for s in want]
    for g, w in zip(got, want):
        for t in w.per_frame:
            for k, v in w.per_frame[t].items():
                torch.testing.assert_close(torch.as_tensor(g.per_frame[t][k]), torch.as_tensor(v),
                                           rtol=0, atol=0, equal_nan=True)


def test_unknown_architecture_is_not_cut():
    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.b(self.a(x))

    m = Plain()
    assert stage_modules(m, layer_groups(m)) is None
    assert prefill_cascade(Perturbation(_model("nature"), optimize=False).share_outputs({}), m,
                           torch.zeros(1, 64, 64, 3, dtype=torch.uint8)) is None
