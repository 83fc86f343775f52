"""Deletion and insertion curves (Petsiuk et al. 2018, RISE), vectorised.

Pixels are taken in the map's order, most salient first (a pixel's channels
together; a map with several channels is reduced by ``reduce``, max by default
as in rendering). Ties, such as the exact zeros of a black background, are
broken in one fixed random order of the pixels (``seed``), the same for every
frame and map, so that no map gains from the scan order of the image.

- deletion: after a fraction s/steps of the pixels, those pixels are replaced by
  the baseline (the frame blurred with ``blur_sigma``, as in perturbation
  saliency); a faithful map makes the tracked quantity fall fast (low AUC);
- insertion: the frame starts fully blurred and the pixels are revealed in the
  same order; a faithful map makes it rise fast (high AUC).

Tracked quantity:

- actor: p(a), the probability of the chosen action (``actions``; default the
  most likely action on the intact frame);
- critic: the value normalised between the intact and the fully blurred frame,
  ``(v(x') - v(blur)) / (v(x) - v(blur))``: 1 on the intact frame, 0 on the
  blurred one, so that deletion and insertion read like the actor's curves and
  frames with different value scales weigh the same. Where blurring the whole
  frame changes the value by less than ``min_value_change`` the ratio is
  meaningless: those frames get NaN curves and ``valid`` False (the bootstrap
  leaves NaN out and counts the frames it used).

AUC is the trapezoid rule over x in [0, 1] (``steps`` + 1 points). Each frame
costs ``2 * steps`` forward passes (the intact and the fully blurred frame are
shared by both curves); all (frame, step) inputs go through the network in
chunks of ``chunk``, built by broadcasting as in perturbation saliency.

Quantus (0.6) implements the same idea as ``PixelFlipping`` and
``RegionPerturbation``; we cross-check against ``PixelFlipping`` in the tests
(black baseline, probability of the class). We do not use it for the check:
it flips each channel of a pixel as a separate feature, runs one forward pass
per step in a Python loop over the batch without chunking across steps, has no
blurred-frame baseline (only constants and noise), and no value head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rlsight.errors import RlsightError
from rlsight.explain.saliency.methods import as_float_frames, check_choice
from rlsight.explain.saliency.perturbation import (
    TARGETS,
    _outputs,
    _perturbed,
    gaussian_blur,
    inference_network,
)


@dataclass
class Curves:
    """Per frame: deletion and insertion curves (N, steps + 1) at ``fractions`` (steps + 1,)
    of the pixels, their AUCs (N,), and ``valid`` (N,): False where the curves are
    undefined (the critic's, when blurring the frame leaves the value unchanged)."""

    deletion: torch.Tensor
    insertion: torch.Tensor
    deletion_auc: torch.Tensor
    insertion_auc: torch.Tensor
    fractions: torch.Tensor
    valid: torch.Tensor
    target: str


def pixel_ranks(maps: torch.Tensor, reduce: str = "max", seed: int = 0) -> torch.Tensor:
    """(N, H, W) rank of every pixel, 0 = most salient; ties in a fixed random pixel order."""
    check_choice("reduce", reduce, ("max", "mean"))
    m = maps if maps.ndim == 3 else (maps.amax(1) if reduce == "max" else maps.mean(1))
    n, h, w = m.shape
    flat = m.reshape(n, h * w).float()
    if not torch.isfinite(flat).all():
        raise RlsightError("maps contain NaN or infinite values")
    perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed)).to(flat.device)
    idx = torch.sort(flat[:, perm], dim=1, descending=True, stable=True).indices
    order = perm[idx]  # pixels, most salient first
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(h * w, device=flat.device).expand(n, -1))
    return ranks.reshape(n, h, w)


def _blur_masks(ranks: torch.Tensor, k: torch.Tensor, flip: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """ranks (..., H, W) broadcast against k, flip (R,): float masks (..., R, 1, H, W), 1 = baseline."""
    r = ranks.unsqueeze(-3)  # (..., 1, H, W)
    m = (r < k.view(-1, 1, 1)) ^ flip.view(-1, 1, 1)  # (..., R, H, W)
    return m.unsqueeze(-1 if channels_last else -3).float()


def deletion_insertion(model: nn.Module, frames, maps: torch.Tensor, target: str,
                       actions: torch.Tensor | None = None, steps: int = 20, blur_sigma: float = 3.0,
                       chunk: int = 256, baseline: torch.Tensor | None = None, reduce: str = "max",
                       seed: int = 0, min_value_change: float = 1e-3,
                       network: nn.Module | None = None) -> Curves:
    """Deletion and insertion curves of ``maps`` (N, C, H, W) on ``frames`` (module docstring).

    ``baseline`` (N, C, H, W) replaces the blurred frames (e.g. zeros); ``network``
    runs the batches (default on a CPU: ``inference_network(model, ...)``, traced
    anew on every call (about a second for IMPALA): pass one, or the network a
    ``Perturbation`` method picked, when scoring many maps of one model).
    """
    check_choice("target", target, TARGETS)
    return deletion_insertion_all(model, frames, maps, (target,), actions, steps, blur_sigma, chunk, baseline,
                                  reduce, seed, min_value_change, network)[target]


@dataclass
class Ends:
    """The network's outputs on the intact (index 0) and the fully blurred (index 1) frames:
    logits (N, 2, A) and value (N, 2), the two points every map's curves share."""

    logits: torch.Tensor
    value: torch.Tensor


def deletion_insertion_all(model: nn.Module, frames, maps: torch.Tensor, targets: tuple[str, ...] = TARGETS,
                           actions: torch.Tensor | None = None, steps: int = 20, blur_sigma: float = 3.0,
                           chunk: int = 256, baseline: torch.Tensor | None = None, reduce: str = "max",
                           seed: int = 0, min_value_change: float = 1e-3, network: nn.Module | None = None,
                           insertion: bool = True, ends: Ends | None = None) -> dict[str, Curves]:
    """``deletion_insertion`` for several targets of the same ``maps``, from one set of
    forward passes: {target: Curves}. ``insertion`` False skips the insertion passes
    (its curves and AUCs are NaN); ``ends`` (``end_outputs``) saves the passes on the
    intact and fully blurred frames, which are the same for every map."""
    for t in targets:
        check_choice("target", t, TARGETS)
    if steps < 1:
        raise RlsightError(f"steps {steps}: must be >= 1")
    if chunk < 1:
        raise RlsightError(f"chunk {chunk}: must be >= 1")
    x = as_float_frames(model, frames)
    n, c, h, w = x.shape
    maps = torch.as_tensor(maps).to(x.device)
    if maps.ndim not in (3, 4) or maps.shape[0] != n or tuple(maps.shape[-2:]) != (h, w):
        raise RlsightError(f"maps of shape {tuple(maps.shape)} for frames of shape {(n, c, h, w)}: "
                           f"expected (N, C, H, W) with the frames' N, H and W")
    base = gaussian_blur(x, blur_sigma) if baseline is None else torch.as_tensor(baseline).to(x).expand_as(x)
    ranks = pixel_ranks(maps, reduce, seed)
    pixels = h * w
    k = torch.round(torch.arange(steps + 1, dtype=torch.float64) * pixels / steps).long().to(x.device)
    net = network
    if net is None:
        net = inference_network(model, x[:1].expand(min(chunk, 32), c, h, w).contiguous()) \
            if x.device.type == "cpu" else model
    # rows per frame: deletion s = 1..steps-1 (blur the first k_s pixels), then insertion
    # s = 1..steps-1 (blur all but the first k_s); the ends (s = 0 and steps) are shared
    inner = steps - 1
    kk = torch.cat([k[1:steps], k[1:steps]]) if insertion else k[1:steps]
    flip = torch.cat([torch.zeros(inner, dtype=torch.bool), torch.ones(inner if insertion else 0, dtype=torch.bool)])
    lo, v = _passes(net, x, base, ranks, kk, flip.to(x.device), chunk)
    if ends is None:
        ends = end_outputs(model, x, base, net, chunk)
    logits = torch.cat([ends.logits[:, :1], lo[:, :inner], ends.logits[:, 1:], lo[:, inner:]], 1)
    value = torch.cat([ends.value[:, :1], v[:, :inner], ends.value[:, 1:], v[:, inner:]], 1)
    rows = logits.shape[1]
    fractions = k.double().div(pixels).float()
    out = {}
    for target in targets:
        valid = torch.ones(n, dtype=torch.bool, device=x.device)
        if target == "actor":
            if actions is None:
                a = logits[:, 0].argmax(-1)
            else:
                a = torch.as_tensor(actions, device=x.device).long().reshape(-1)
                if a.numel() != n:
                    raise RlsightError(f"actions: {a.numel()} for {n} frames")
            q = logits.softmax(-1).gather(2, a.view(n, 1, 1).expand(n, rows, 1)).squeeze(2)
        else:
            full = value[:, 0] - value[:, steps]  # intact - fully blurred
            valid = full.abs() >= min_value_change
            q = (value - value[:, steps:steps + 1]) / torch.where(valid, full, torch.ones_like(full)).unsqueeze(1)
            q[~valid] = float("nan")
        deletion = q[:, : steps + 1]
        ins = torch.cat([q[:, steps:steps + 1], q[:, steps + 1:], q[:, :1]], 1) if insertion \
            else torch.full_like(deletion, float("nan"))
        out[target] = Curves(deletion, ins, torch.trapezoid(deletion, fractions, dim=1),
                             torch.trapezoid(ins, fractions, dim=1), fractions, valid, target)
    return out


def end_outputs(model: nn.Module, frames, base: torch.Tensor, network: nn.Module, chunk: int = 256) -> Ends:
    """The outputs on the intact and the fully replaced frames (``Ends``), built exactly as
    the curves' other points are (the ranks do not matter at the ends)."""
    x = as_float_frames(model, frames)
    n, _, h, w = x.shape
    ranks = torch.zeros(n, h, w, dtype=torch.long, device=x.device)
    kk = torch.tensor([0, h * w], device=x.device)
    lo, v = _passes(network, x, base, ranks, kk, torch.zeros(2, dtype=torch.bool, device=x.device), chunk)
    return Ends(lo, v)


def _passes(net: nn.Module, x: torch.Tensor, base: torch.Tensor, ranks: torch.Tensor, kk: torch.Tensor,
            flip: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, R, A) and value (N, R) of every frame with the pixels of rank < kk[r] replaced
    by ``base`` (all but those with ``flip[r]``), in batches of about ``chunk`` inputs."""
    n, c, h, w = x.shape
    rows = kk.numel()
    cl = getattr(net, "channels_last", False)
    diff = base - x
    fr, df = (x, diff) if not cl else (x.permute(0, 2, 3, 1).contiguous(), diff.permute(0, 2, 3, 1).contiguous())
    logits = torch.empty(n, rows, model_actions(net, x[:1]), device=x.device)
    value = torch.empty(n, rows, device=x.device)
    if rows == 0:
        return logits, value
    with torch.inference_mode():
        if rows >= chunk:  # slices of one frame's rows
            for i in range(n):
                for s in range(0, rows, chunk):
                    m = _blur_masks(ranks[i], kk[s:s + chunk], flip[s:s + chunk], cl)
                    logits[i, s:s + chunk], value[i, s:s + chunk] = _outputs(net, _perturbed(
                        fr[i:i + 1], df[i:i + 1], m, cl))
        else:  # several whole frames per chunk
            g = max(1, chunk // rows)
            for i in range(0, n, g):
                j = min(n, i + g)
                m = _blur_masks(ranks[i:j], kk, flip, cl)  # (g, R, 1, H, W)
                lo, v = _outputs(net, _perturbed(fr[i:j, None], df[i:j, None], m, cl))
                value[i:j] = v.reshape(j - i, rows)
                logits[i:j] = lo.reshape(j - i, rows, -1)
    return logits, value


def model_actions(net: nn.Module, x: torch.Tensor) -> int:
    """Number of actions of ``net``'s policy head (one forward pass on one frame)."""
    with torch.inference_mode():
        return int(net(x)[0].shape[-1])
