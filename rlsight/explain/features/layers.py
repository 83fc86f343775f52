"""Hidden layers by name: which ones are spatial, the default one, and their activations.

A layer is named as in ``model.named_modules()`` (``encoder.block3`` for IMPALA,
``encoder.layers.5`` for Nature-DQN's last ReLU). A *spatial* layer is one whose
output is (N, C, h, w); the default is the last spatial layer the forward pass
reaches (the encoder's last spatial stage).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from rlsight.errors import RlsightError

OBS_HW = 64


def spatial_layers(model: nn.Module) -> list[tuple[str, tuple[int, int, int]]]:
    """(name, (C, h, w)) of every module whose output is spatial, in the order the
    forward pass finishes them (so the last entry is the deepest spatial layer). A
    module that only passes on its last child's output is listed under its own
    (outer) name only: ``encoder.block3``, not ``encoder.block3.res2``."""
    found: list[tuple[str, torch.Tensor]] = []
    handles = []
    for name, mod in model.named_modules():
        if not name:
            continue

        def hook(_m, _inp, out, name=name) -> None:
            if isinstance(out, torch.Tensor) and out.dim() == 4:
                found[:] = [(n, t) for n, t in found if t is not out]
                found.append((name, out))
        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, OBS_HW, OBS_HW, device=_device(model)))
    finally:
        for h in handles:
            h.remove()
    return [(n, tuple(t.shape[1:])) for n, t in found]  # type: ignore[misc]


def default_layer(model: nn.Module) -> str:
    """The deepest spatial layer's name."""
    layers = spatial_layers(model)
    if not layers:
        raise RlsightError("the model has no spatial layer (no module outputs (N, C, h, w))")
    return layers[-1][0]


def resolve_layer(model: nn.Module, name: str | None, option: str = "--layer") -> tuple[str, nn.Module,
                                                                                       tuple[int, int, int]]:
    """(name, module, (C, h, w)) for ``name`` (None: the default layer); an unknown
    name is a one-line error naming ``option`` and listing the spatial layers."""
    layers = dict(spatial_layers(model))
    if name is None:
        name = default_layer(model)
    if name not in layers:
        raise RlsightError(f"{option} {name!r}: not a spatial layer of this model; its layers: {', '.join(layers)}")
    return name, dict(model.named_modules())[name], layers[name]


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def to_float(obs: np.ndarray | torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    """uint8 frames (N, 64, 64, 3) -> float (N, 3, 64, 64) in [0, 1]; float NCHW passes through."""
    t = torch.as_tensor(obs)
    if t.dtype == torch.uint8:
        t = t.permute(0, 3, 1, 2).float().div_(255.0)
    return t.to(device) if device is not None else t


@contextmanager
def capture(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Within the block, every output of ``module`` is appended (detached) to the yielded list."""
    got: list[torch.Tensor] = []
    h = module.register_forward_hook(lambda _m, _i, out: got.append(out.detach()))
    try:
        yield got
    finally:
        h.remove()


def activations(model: nn.Module, module: nn.Module, obs: np.ndarray | torch.Tensor, batch: int = 256) -> np.ndarray:
    """float32 (N, C, h, w): the layer's output on ``obs``, clipped at zero (NMF needs
    non-negative data; at the default layers a ReLU follows or is the layer, so this is
    what the next layer sees)."""
    dev = _device(model)
    out = []
    with torch.no_grad(), capture(module) as got:
        for i in range(0, len(obs), batch):
            model(to_float(obs[i:i + batch], dev))
            out.append(got.pop().clamp(min=0).float().cpu().numpy())
            got.clear()
    return np.concatenate(out) if out else np.zeros((0,), np.float32)
