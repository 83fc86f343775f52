"""Model-randomisation sanity check (Adebayo et al. 2018).

A saliency method that explains the model should give different maps once the
trained weights are replaced by fresh random ones. We compare, frame by frame,
the maps of the trained model and of the same architecture re-initialised, by
Spearman rank correlation (pixels ranked, ties sharing their average rank).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rlsight.explain.saliency.methods import MethodOptions, make_method
from rlsight.explain.saliency.perturbation import TARGETS


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
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return fresh.eval()


@dataclass
class CheckResult:
    """Per target: the mean correlation and the per-frame values."""

    method: str
    mean: dict[str, float]
    per_frame: dict[str, list[float]]


def randomisation_check(model: nn.Module, frames, method: str = "perturbation",
                        targets: Sequence[str] = TARGETS, options: MethodOptions | None = None,
                        seed: int = 0) -> CheckResult:
    """Rank correlation between maps of ``model`` and of a re-initialised copy on ``frames``.

    Maps are reduced to one channel (max) before ranking. Values near 1 mean the
    method barely depends on the learned weights.
    """
    opts = options or MethodOptions()
    first = make_method(method, model, opts)
    trained = first.attribute_all(frames, targets)
    fresh = reinitialised(model, seed)
    # computed the same way as the first (perturbation picks its network by timing)
    second = first.for_model(fresh) if hasattr(first, "for_model") else make_method(method, fresh, opts)
    random = second.attribute_all(frames, targets)
    per_frame = {}
    for t in targets:
        a, b = trained[t].amax(1).cpu().numpy(), random[t].amax(1).cpu().numpy()
        per_frame[t] = [spearman(x, y) for x, y in zip(a, b)]
    mean = {t: float(np.nanmean(v)) if not np.all(np.isnan(v)) else float("nan") for t, v in per_frame.items()}
    return CheckResult(method, mean, per_frame)
