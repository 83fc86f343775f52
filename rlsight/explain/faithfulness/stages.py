"""Cascading randomisation without recomputing the unchanged layers.

At step k of the cascade (``randomisation.cascading_randomisation``) the layer
groups 1..k from the top are random and every group below is the trained one,
so the trained network's activations at the input of group k serve step k.
``CascadeRunner`` cuts the network at the groups and, for a batch, runs the
trained layers once (keeping the activation at every cut) and then, for each
step, only the random groups above its cut. Its outputs equal those of each
step's whole model (exactly in eager mode; to float rounding with the stages
traced for oneDNN). Forward passes only: the perturbation methods use it through
``prefill_cascade``, which stores the outputs where ``Perturbation.share_outputs``
finds them, so the cascade's own calls are answered from the store.

Known architectures (``ActorCritic`` with the IMPALA or Nature-DQN encoder) are
cut; for any other, ``stage_modules`` returns None and the cascade runs each
step's whole model, as before.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import torch
from torch import nn

from rlsight.explain.saliency.methods import Perturbation, as_float_frames
from rlsight.explain.saliency.perturbation import (
    ChannelsLastNetwork,
    gaussian_blur,
    inference_network,
    make_masks,
    perturbation_outputs_many,
)


class _Heads(nn.Module):
    def __init__(self, policy: nn.Module, value: nn.Module):
        super().__init__()
        self.policy, self.value = policy, value

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.policy(h), self.value(h).squeeze(-1)


class _ImpalaTop(nn.Module):
    """relu -> flatten -> fc -> relu: the IMPALA encoder after its last block."""

    def __init__(self, fc: nn.Module):
        super().__init__()
        self.fc = fc

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(torch.relu(h).flatten(1)))


class _Chain(nn.Module):
    def __init__(self, parts: Sequence[nn.Module]):
        super().__init__()
        self.parts = nn.ModuleList(parts)

    def forward(self, x: torch.Tensor):
        for p in self.parts:
            x = p(x)
        return x


def _atoms(model: nn.Module) -> list[tuple[set[str], nn.Module]] | None:
    """The model as a bottom-up sequence of (module names, stage); None if unknown."""
    from rlsight.models.encoders import ImpalaEncoder, NatureEncoder
    from rlsight.models.policy import ActorCritic

    if not isinstance(model, ActorCritic):
        return None
    enc = model.encoder
    atoms: list[tuple[set[str], nn.Module]] = []
    if isinstance(enc, ImpalaEncoder):
        atoms += [({f"encoder.block{i + 1}"}, getattr(enc, f"block{i + 1}")) for i in range(enc.n_blocks)]
        atoms.append(({"encoder.fc"}, _ImpalaTop(enc.fc)))
    elif isinstance(enc, NatureEncoder):
        layers = list(enc.layers)
        starts = [i for i, m in enumerate(layers) if any(True for _ in m.parameters())]
        if not starts or starts[0] != 0:
            return None
        for a, b in zip(starts, [*starts[1:], len(layers)]):
            atoms.append(({f"encoder.layers.{a}"}, nn.Sequential(*layers[a:b])))
    else:
        return None
    atoms.append(({"policy", "value"}, _Heads(model.policy, model.value)))
    return atoms


def stage_modules(model: nn.Module, groups: Sequence[tuple[str, list[str]]]) -> list[nn.Module] | None:
    """One stage per layer group (``randomisation.layer_groups``), in the groups' order (top
    first), each holding exactly its group's layers, so that running them bottom-up is the
    model's forward pass on float frames. None when the model is not a known architecture
    or the groups do not cut it into contiguous pieces."""
    atoms = _atoms(model)
    if atoms is None:
        return None
    owner = []
    for names, _ in atoms:
        hits = [g for g, (_, members) in enumerate(groups) if names & set(members)]
        if len(hits) != 1:
            return None
        owner.append(hits[0])
    # bottom-up, the atoms' groups must run from the last group to the first, each contiguous
    if owner != sorted(owner, reverse=True) or set(owner) != set(range(len(groups))):
        return None
    stages: list[nn.Module] = [_Chain([m for (_, m), g in zip(atoms, owner) if g == gi]) for gi in range(len(groups))]
    covered = {n for names, _ in atoms for n in names}
    if covered != {n for _, members in groups for n in members}:
        return None
    return stages


class CascadeRunner:
    """A batch -> every model's (logits, value): the trained model first, then the
    cascade's steps 1..S (step k: groups 1..k random, built from ``random`` and
    ``trained`` stages, ``stage_modules`` order). ``trained_seconds`` accumulates
    the time spent in the trained model's layers, ``network_seconds`` that in all."""

    def __init__(self, trained: list[nn.Module], random: list[nn.Module], steps: int, example: torch.Tensor,
                 network: str = "onednn"):
        n = len(trained)
        self.channels_last = network == "channels-last"
        self.steps = steps
        base = _Chain(trained[steps:][::-1])  # the groups no step randomises, bottom-up (may be empty)
        chain = [base, *trained[:steps][::-1]]  # bottom-up: base, then group S .. group 1

        def fast(m: nn.Module, x: torch.Tensor) -> nn.Module:
            if network == "onednn":
                return inference_network(m, x)
            return ChannelsLastNetwork(m) if self.channels_last else m
        self.trained: list[nn.Module] = []
        acts = [example]
        with torch.no_grad():
            for m in chain:
                self.trained.append(fast(m, acts[-1]))
                acts.append(m(acts[-1]))
        # acts[j]: input of chain[j]; the input of group k (1-based, k <= S) is acts[S - k + 1]
        self.random: list[nn.Module] = []  # random group k at index k - 1, fed the trained activations
        with torch.no_grad():
            for k in range(1, steps + 1):
                self.random.append(fast(random[k - 1], acts[steps - k + 1]))
        self.trained_seconds = 0.0  # in the trained model's layers
        self.network_seconds = 0.0  # in every model's layers
        assert len(self.random) == steps <= n

    def __call__(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Outputs of the trained model and of steps 1..S on ``x``."""
        t0 = time.perf_counter()
        acts = [x]
        for m in self.trained:
            acts.append(m(acts[-1]))
        t1 = time.perf_counter()
        self.trained_seconds += t1 - t0
        outs = [acts[-1]]
        s = self.steps
        for k in range(1, s + 1):  # step k: random groups k..1 on the trained input of group k
            h = acts[s - k + 1]
            for j in range(k, 0, -1):
                h = self.random[j - 1](h)
            outs.append(h)
        out = [(lo.float(), v.float().reshape(-1)) for lo, v in outs]
        self.network_seconds += time.perf_counter() - t0
        return out


def cascade_models(model: nn.Module, groups: Sequence[tuple[str, list[str]]], seed: int,
                   steps: int) -> list[nn.Module]:
    """The models of the cascade's first ``steps`` steps, each a copy, drawn exactly as
    ``cascading_randomisation`` draws them (same seed, same order)."""
    from rlsight.explain.faithfulness.randomisation import _reset

    current = copy.deepcopy(model).eval()
    torch.manual_seed(seed)
    out = []
    for _, names in groups[:steps]:
        for name in names:
            for m in current.get_submodule(name).modules():
                _reset(m)
        out.append(copy.deepcopy(current))
    return out


def prefill_cascade(method: Perturbation, model: nn.Module, frames, max_steps: int = 6, seed: int = 0,
                    stop_after: int | None = None) -> float | None:
    """Compute ``method``'s perturbation outputs for ``model`` and every model of its
    cascade in one pass over the perturbed frames (``CascadeRunner``), into the store of
    ``share_outputs`` (which ``method`` must have). Returns the seconds spent in the
    trained model's share (the seconds in its layers, and that share of building the
    batches), or None (nothing done) where the model cannot be cut, the
    method blurs one stacked frame only, or the outputs are stored already."""
    from rlsight.explain.faithfulness.randomisation import layer_groups

    cache = method.outputs_cache
    if cache is None or method.model is not model:
        return None
    groups = layer_groups(model, max_steps)
    steps = len(groups) if stop_after is None else min(stop_after, len(groups))
    stages = stage_modules(model, groups)
    if stages is None or steps < 1 or method.stack_frame is not None:
        return None
    x = as_float_frames(model, frames)
    models = cascade_models(model, groups, seed, steps)
    keys = [method.outputs_key(m, x) for m in (model, *models)]
    if all(k in cache for k in keys):
        return None
    random = stage_modules(models[-1], groups)
    assert random is not None  # the same architecture
    if method._network is None and method._lazy is None:
        method._prepare(x)
    chunk = method.chunk
    assert chunk is not None
    # the stages run as the method's own network does: a oneDNN graph, channels-last, or eager
    network = "channels-last" if isinstance(method._network, ChannelsLastNetwork) else \
        "eager" if method._network is method.model or x.device.type != "cpu" else "onednn"
    size = (x.shape[2], x.shape[3])
    example = x[:1].expand(min(chunk, 32), *x.shape[1:]).contiguous()
    runner = CascadeRunner(stages, random, steps, example, network)
    t0 = time.perf_counter()
    outs = perturbation_outputs_many(runner, x, make_masks(size, method.stride, method.radius).to(x.device),
                                     gaussian_blur(x, method.blur_sigma), method.per_channel, chunk,
                                     channels_last=runner.channels_last)
    for k, o in zip(keys, outs):
        cache[k] = o
    # the trained model's share, building the perturbed batches included
    return (time.perf_counter() - t0) * runner.trained_seconds / max(runner.network_seconds, 1e-12)
