"""Model-randomisation sanity checks (Adebayo et al. 2018).

A saliency method that explains the model should give different maps once the
trained weights are replaced by fresh random ones. We compare, frame by frame,
the maps of the trained model and of the same architecture re-initialised, by
Spearman rank correlation (pixels ranked, ties sharing their average rank).

``randomisation_check`` re-initialises every layer at once.
``cascading_randomisation`` re-initialises layer groups one after the other from
the top (the policy and value heads, then the encoder's stages from the last to
the first), cumulatively, and after each step reports four correlations per
frame (``CASCADE_STATS``):

- ``signed`` / ``signed_nonzero``: the signed maps (``MethodOptions(signed=True)``:
  gradients and scores without absolute values), summed over colour channels;
- ``abs`` / ``abs_nonzero``: their absolute values (Adebayo et al.'s "with
  absolute values"), max over colour channels. For gradient and integrated
  gradients (both targets) and the critic's action-specific perturbation scores
  this is exactly the default map that is drawn; it is not for SmoothGrad
  (|mean gradient| rather than the mean of |gradient|), Grad-CAM (|CAM| rather
  than ReLU(CAM)) and the actor's ``perturbation-logp``/``-prob`` (whose drawn map
  is the positive part); the L2 perturbation score and SARFA's actor score have
  no sign, so their signed and abs values agree;
- over all pixels, and (``_nonzero``) over the pixels where either map is
  nonzero: on a black background every method gives exact zeros in the same
  places, which makes whole-frame correlations look high whatever the weights.

Both models explain the same action: ``actions``, or the trained model's most
likely action on each frame.

Quantus (0.6) has this test as ``MPRT`` (``layer_order="top_down"``). We do not
use it: it re-initialises every module with ``reset_parameters`` one at a time
(18 steps for the IMPALA actor-critic, where the issue budgets at most 6), it
explains a classifier's single output (no value head), and it correlates whole
maps only (no nonzero-pixel variant, which starpilot's black background needs).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from rlsight.errors import RlsightError
from rlsight.explain.saliency.methods import (
    MethodOptions,
    SaliencyMethod,
    as_float_frames,
    make_method,
)
from rlsight.explain.saliency.perturbation import TARGETS

CASCADE_STATS = ("signed", "abs", "signed_nonzero", "abs_nonzero")
MethodLike = str | Callable[[nn.Module], SaliencyMethod]


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array; tied values get the mean of their ranks."""
    x = np.asarray(x).ravel()
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new_group = np.r_[True, xs[1:] != xs[:-1]]
    gid = np.cumsum(new_group) - 1
    counts = np.bincount(gid)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    avg = starts + (counts - 1) / 2 + 1
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = avg[gid]
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two equally sized arrays (NaN if one is constant)."""
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def reinitialised(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every layer's parameters drawn afresh."""
    fresh = copy.deepcopy(model)
    torch.manual_seed(seed)
    for m in fresh.modules():
        _reset(m)
    return fresh.eval()


def _reset(module: nn.Module) -> None:
    """Draw ``module``'s own parameters afresh (its ``reset_parameters``, where it has one)."""
    reset = getattr(module, "reset_parameters", None)
    if callable(reset):
        reset()


@dataclass
class CheckResult:
    """Per target: the mean correlation and the per-frame values."""

    method: str
    mean: dict[str, float]
    per_frame: dict[str, list[float]]


def _builder(method: MethodLike, opts: MethodOptions) -> Callable[[nn.Module], SaliencyMethod]:
    """A method name, or a callable building a method for a model (e.g. a baseline posing as one)."""
    if isinstance(method, str):
        return lambda m: make_method(method, m, opts)
    return method


def _same_way(first: SaliencyMethod, build: Callable[[nn.Module], SaliencyMethod], model: nn.Module):
    """The method for another model, computed the same way as ``first`` (perturbation picks its
    network by timing, so the maps differ by the weights only, not by float rounding)."""
    return first.for_model(model) if hasattr(first, "for_model") else build(model)


def randomisation_check(model: nn.Module, frames, method: MethodLike = "perturbation",
                        targets: Sequence[str] = TARGETS, options: MethodOptions | None = None,
                        seed: int = 0, actions: torch.Tensor | None = None) -> CheckResult:
    """Rank correlation between maps of ``model`` and of a re-initialised copy on ``frames``.

    Maps are reduced to one channel (max) before ranking. Values near 1 mean the
    method barely depends on the learned weights. ``method``: a name from
    ``METHODS`` or a callable that builds a method for a model. Both models explain
    the same action: ``actions``, or the trained model's most likely one per frame.
    """
    opts = options or MethodOptions()
    build = _builder(method, opts)
    first = build(model)
    if actions is None:
        with torch.no_grad():
            actions = model(as_float_frames(model, frames))[0].argmax(-1)
    trained = first.attribute_all(frames, targets, actions)
    fresh = reinitialised(model, seed)
    random = _same_way(first, build, fresh).attribute_all(frames, targets, actions)
    per_frame = {}
    for t in targets:
        a, b = trained[t].amax(1).cpu().numpy(), random[t].amax(1).cpu().numpy()
        per_frame[t] = [spearman(x, y) for x, y in zip(a, b)]
    mean = {t: float(np.nanmean(v)) if not np.all(np.isnan(v)) else float("nan") for t, v in per_frame.items()}
    return CheckResult(method if isinstance(method, str) else first.name, mean, per_frame)


def layer_groups(model: nn.Module, max_steps: int = 6) -> list[tuple[str, list[str]]]:
    """Layer groups to randomise, top first: (label, module names).

    An actor-critic (``policy``, ``value``, ``encoder``): the two heads, then the
    encoder's parameterised children (a ``Sequential`` expanded into its layers)
    from the last to the first. Other models: their parameterised children, last
    first. Beyond ``max_steps`` groups the lowest ones are merged into the last.
    """
    def with_params(mod: nn.Module) -> bool:
        return any(True for _ in mod.parameters())

    def expand(prefix: str, mod: nn.Module) -> list[tuple[str, list[str]]]:
        out = []
        for name, child in mod.named_children():
            full = f"{prefix}{name}"
            if isinstance(child, nn.Sequential):
                out += expand(f"{full}.", child)
            elif with_params(child):
                out.append((full, [full]))
        return out

    heads = [n for n in ("policy", "value") if isinstance(getattr(model, n, None), nn.Module)]
    groups: list[tuple[str, list[str]]] = [("heads", heads)] if heads else []
    encoder = getattr(model, "encoder", None)
    if isinstance(encoder, nn.Module):
        groups += expand("encoder.", encoder)[::-1]
    else:
        groups += [g for g in expand("", model)[::-1] if g[0] not in heads]
    if len(groups) > max_steps:
        merged = [n for _, names in groups[max_steps - 1:] for n in names]
        groups = groups[: max_steps - 1] + [(f"{groups[max_steps - 1][0]}..{groups[-1][0]}", merged)]
    return groups


@dataclass
class CascadeStep:
    """One step of cascading randomisation: ``group`` was re-initialised at this step,
    ``randomised`` lists every module re-initialised so far; ``per_frame[target][stat]``
    holds the per-frame Spearman correlations (N,) of trained vs randomised maps for
    each of ``CASCADE_STATS`` (NaN where a frame has fewer than two pixels to rank or
    a constant map)."""

    group: str
    randomised: list[str]
    per_frame: dict[str, dict[str, np.ndarray]]

    def mean(self) -> dict[str, dict[str, float]]:
        """Per target and statistic: the mean over frames, NaN frames left out."""
        return {t: {k: _nanmean(v) for k, v in stats.items()} for t, stats in self.per_frame.items()}


def _nanmean(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=np.float64)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def _spearman_masked(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> float:
    if mask is not None:
        a, b = a[mask], b[mask]
    return spearman(a, b) if a.size >= 2 else float("nan")


def map_correlations(trained: torch.Tensor, random: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-frame Spearman correlations of two (N, C, H, W) map batches for ``CASCADE_STATS``."""
    sa, sb = trained.sum(1).flatten(1).cpu().numpy(), random.sum(1).flatten(1).cpu().numpy()
    aa = trained.abs().amax(1).flatten(1).cpu().numpy()
    ab = random.abs().amax(1).flatten(1).cpu().numpy()
    out = {k: np.empty(len(sa)) for k in CASCADE_STATS}
    for i in range(len(sa)):
        nz = (aa[i] != 0) | (ab[i] != 0)
        out["signed"][i] = _spearman_masked(sa[i], sb[i], None)
        out["abs"][i] = _spearman_masked(aa[i], ab[i], None)
        out["signed_nonzero"][i] = _spearman_masked(sa[i], sb[i], nz)
        out["abs_nonzero"][i] = _spearman_masked(aa[i], ab[i], nz)
    return out


def cascading_randomisation(model: nn.Module, frames, method: MethodLike | SaliencyMethod,
                            targets: Sequence[str] = TARGETS, options: MethodOptions | None = None, seed: int = 0,
                            actions: torch.Tensor | None = None, max_steps: int = 6,
                            trained: dict[str, torch.Tensor] | None = None,
                            stop_after: int | None = None) -> list[CascadeStep]:
    """Cascading model randomisation (module docstring): one ``CascadeStep`` per layer group,
    top first, each with the groups above it still random.

    ``method`` may also be a method already built for ``model`` with signed maps (e.g. a
    ``Perturbation`` that has picked its network); the randomised models' maps are then
    computed the same way. ``trained``: the signed maps of ``model`` on ``frames`` for
    ``targets`` (explaining ``actions``), when already computed. ``stop_after``: compute
    only the first this many steps (1: the top group alone).
    """
    opts = replace(options or MethodOptions(), signed=True)
    if isinstance(method, SaliencyMethod):
        if not getattr(method, "signed", True):
            raise RlsightError(f"method {method.name}: cascading randomisation needs signed maps "
                               "(MethodOptions(signed=True))")
        first = method
        build = _builder(method.name, opts)
    else:
        build = _builder(method, opts)
        first = build(model)
    if stop_after is not None and stop_after < 1:
        raise RlsightError(f"stop_after {stop_after}: must be >= 1")
    groups = layer_groups(model, max_steps)
    if not groups:
        raise RlsightError(f"{type(model).__name__} has no layers with parameters to randomise")
    if actions is None:
        with torch.no_grad():
            actions = model(as_float_frames(model, frames))[0].argmax(-1)
    if trained is None:
        trained = first.attribute_all(frames, targets, actions)
    current = copy.deepcopy(model).eval()
    torch.manual_seed(seed)
    done: list[str] = []
    steps: list[CascadeStep] = []
    for label, names in groups[:stop_after]:
        for name in names:
            for m in current.get_submodule(name).modules():
                _reset(m)
        done += names
        random = _same_way(first, build, current).attribute_all(frames, targets, actions)
        steps.append(CascadeStep(label, list(done), {t: map_correlations(trained[t], random[t]) for t in targets}))
    return steps
