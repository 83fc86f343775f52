"""Stability of a map under small input noise: max-sensitivity (Yeh et al. 2019).

For each frame x, ``samples`` noisy copies x' = clip(x + u, 0, 1), u uniform in
[-radius, radius] per pixel and channel, are drawn; copies whose most likely
action differs from x's are left out (the explanation may change when the
decision does). The score is the largest relative change of the map,

    max over kept x' of ||map(x') - map(x)|| / ||map(x)||    (Frobenius norms),

with both maps explaining the same action (``actions``, default x's most likely
action). Lower is more stable. NaN where no copy kept the action or map(x) is
zero everywhere (the ratio is undefined; the bootstrap leaves NaN out).

This is Quantus' ``MaxSensitivity`` (uniform noise, ``difference`` similarity,
Frobenius norms); the tests check the two agree on the same noise. Differences:
we clip the noisy frames to the valid range [0, 1] (Quantus does not); a copy
that changes the action is left out, where Quantus either keeps it
(``return_nan_when_prediction_changes=False``) or makes the whole frame NaN
(``True``); and all copies of all frames are explained in one batched call
rather than one call per sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rlsight.errors import RlsightError
from rlsight.explain.saliency.methods import SaliencyMethod, as_float_frames, check_choice
from rlsight.explain.saliency.perturbation import TARGETS


def max_sensitivity(method: SaliencyMethod, frames, target: str, actions: torch.Tensor | None = None,
                    radius: float = 0.02, samples: int = 8, seed: int = 0,
                    noise: torch.Tensor | None = None) -> torch.Tensor:
    """(N,) max-sensitivity of ``method``'s maps on ``frames`` (module docstring).

    ``noise`` (samples, N, C, H, W) replaces the seeded uniform draw (for tests).
    """
    check_choice("target", target, TARGETS)
    return max_sensitivity_all(method, frames, (target,), actions, radius, samples, seed, noise)[target]


def max_sensitivity_all(method: SaliencyMethod, frames, targets: Sequence[str] = TARGETS,
                        actions: torch.Tensor | None = None, radius: float = 0.02, samples: int = 8,
                        seed: int = 0, noise: torch.Tensor | None = None,
                        base_maps: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """{target: (N,) max-sensitivity} for several targets from one set of noisy copies
    (one ``attribute_all`` call on them), each as ``max_sensitivity`` gives it. ``base_maps``:
    ``method``'s maps of ``frames`` (explaining ``actions``), where already computed."""
    for t in targets:
        check_choice("target", t, TARGETS)
    if radius <= 0:
        raise RlsightError(f"radius {radius}: must be > 0")
    if samples < 1:
        raise RlsightError(f"samples {samples}: must be >= 1")
    model = method.model
    x = as_float_frames(model, frames)
    n = x.shape[0]
    if noise is None:
        gen = torch.Generator().manual_seed(seed)
        noise = (torch.rand(samples, *x.shape, generator=gen) * 2 - 1) * radius
    noise = noise.to(x)
    s = noise.shape[0]
    xs = (x.unsqueeze(0) + noise).clamp(0, 1).reshape(s * n, *x.shape[1:])
    with torch.no_grad():
        best = model(x)[0].argmax(-1)
        same = (model(xs)[0].argmax(-1).reshape(s, n) == best).cpu()
    acts = best if actions is None else torch.as_tensor(actions, device=x.device).long().reshape(-1)
    if acts.numel() != n:
        raise RlsightError(f"actions: {acts.numel()} for {n} frames")
    bases = base_maps if base_maps is not None else method.attribute_all(x, tuple(targets), acts)
    noisies = method.attribute_all(xs, tuple(targets), acts.repeat(s))
    out = {}
    for t in targets:
        base = bases[t].float().cpu()
        noisy = noisies[t].float().cpu().reshape(s, *base.shape)
        num = (noisy - base.unsqueeze(0)).flatten(2).norm(dim=2)  # (S, N)
        den = base.flatten(1).norm(dim=1)  # (N,)
        ratio = torch.where(same, num / den.clamp_min(torch.finfo(torch.float32).tiny), torch.full_like(num, -1.0))
        v = ratio.amax(0).double()
        v[(v < 0) | (den == 0)] = float("nan")
        out[t] = v
    return out
