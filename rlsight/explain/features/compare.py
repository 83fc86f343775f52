"""Features across two models, on the same frames.

Each feature is summarised by its pooled activation: the spatial mean of its map,
one number per frame. Feature i of model A is matched to the feature of B whose
pooled activation correlates best with it over the frames (Pearson). It is
*matched* when that best correlation beats the best match that random-weights
networks of B's architecture offer by chance (their features fit the same way):
a Monte Carlo test, p = (1 + #networks whose best match is at least as good) /
(networks + 1), matched where p <= 0.05, so it needs at least 19 networks. The
best of B's k features is compared with the best of each network's features, not
with single ones: against single null features, a model unrelated to A would be
"matched" far more often than one time in twenty. The same the other way round.
The encoders may differ: only the frames are shared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from torch import nn

from rlsight.errors import RlsightError
from rlsight.explain.features.layers import activations, resolve_layer
from rlsight.explain.features.nmf import fit_nmf
from rlsight.explain.features.store import FeatureSet

ALPHA = 0.05  # the test's level
NULL_FIT_ROWS = 32_768  # (frame, position) samples the null networks' NMF is fit on


@dataclass(frozen=True)
class Match:
    """Feature ``feature`` of one model against the other model's features: its best
    match, their correlation, the null's threshold, and whether it is matched."""

    feature: int
    label: str
    value_share: float
    policy_share: float
    best_match: int
    best_corr: float
    null_threshold: float  # the random networks' best match to beat: their m-th best, m = floor(alpha (R + 1))
    p_value: float
    matched: bool


def pooled(maps: np.ndarray) -> np.ndarray:
    """Per-frame feature maps (N, k, h, w) -> (N, k) spatial means."""
    return maps.mean(axis=(2, 3))


def correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of ``a`` (N, ka) with every column of ``b``
    (N, kb) over the N frames -> (ka, kb); a constant column correlates 0 with everything."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    na, nb = np.linalg.norm(a, axis=0), np.linalg.norm(b, axis=0)
    c = (a.T @ b) / np.maximum(np.outer(na, nb), 1e-30)
    c[na < 1e-12] = 0.0
    c[:, nb < 1e-12] = 0.0
    return np.clip(c, -1.0, 1.0)


def min_networks(alpha: float = ALPHA) -> int:
    """The fewest random networks with which a match can reach p <= ``alpha`` (19 at 0.05)."""
    return math.ceil(1 / alpha - 1 - 1e-9)


def null_pooled(random_models: Sequence[nn.Module], layer: str, obs: np.ndarray, k: int,
                seed: int = 0) -> list[np.ndarray]:
    """Per random-weights network, its pooled NMF features (N, k'), k' = min(k, channels),
    at ``layer`` on ``obs``."""
    out = []
    for r, m in enumerate(random_models):
        _, module, (channels, _, _) = resolve_layer(m, layer)
        _, maps = fit_nmf(activations(m, module, obs), min(k, channels), seed + r, max_rows=NULL_FIT_ROWS)
        out.append(pooled(maps))
    return out


def match_features(fs: FeatureSet, own: np.ndarray, other: np.ndarray, nulls: Sequence[np.ndarray],
                   alpha: float = ALPHA) -> list[Match]:
    """Match each feature of ``fs`` (pooled activations ``own`` (N, k)) against the other
    model's pooled features ``other`` (N, k2), tested against the random networks'
    pooled features ``nulls`` (one (N, k') each; at least ``min_networks(alpha)``)."""
    r = len(nulls)
    if r < min_networks(alpha):
        raise RlsightError(f"{r} random networks: a test at {alpha:g} needs at least {min_networks(alpha)} "
                           "(a match must beat the best match of each)")
    corr = correlations(own, other)
    best = corr.max(axis=1)
    null_best = np.stack([correlations(own, n).max(axis=1) for n in nulls], axis=1)  # (k, R)
    p = (1 + (null_best >= best[:, None]).sum(axis=1)) / (r + 1)
    m = math.floor(alpha * (r + 1) + 1e-9)  # matched <=> better than the m-th best null
    bar = np.sort(null_best, axis=1)[:, r - m]
    out = []
    for i, info in enumerate(fs.features):
        j = int(np.argmax(corr[i]))
        out.append(Match(i, info.label, info.value_share, info.policy_share, j, float(corr[i, j]),
                         float(bar[i]), float(p[i]), bool(p[i] <= alpha + 1e-12)))
    return out


@dataclass
class FeatureComparison:
    """Both directions of a comparison: ``a`` (A's features against B) and ``b``."""

    a: list[Match]
    b: list[Match]
    meta: dict

    def lacking(self, side: str) -> list[Match]:
        """The features of ``side`` ("a" or "b") that the other model lacks."""
        return [m for m in getattr(self, side) if not m.matched]

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"meta": self.meta, "a": [asdict(m) for m in self.a], "b": [asdict(m) for m in self.b]}


def compare_features(model_a: nn.Module, fs_a: FeatureSet, model_b: nn.Module, fs_b: FeatureSet, obs: np.ndarray,
                     random_a: Sequence[nn.Module], random_b: Sequence[nn.Module],
                     alpha: float = ALPHA, seed: int = 0) -> FeatureComparison:
    """Compare A's and B's features on the same frames ``obs``; ``random_a``/``random_b``
    are random-weights networks of A's/B's architecture (the nulls for B's/A's features)."""
    if min(len(random_a), len(random_b)) < min_networks(alpha):  # before the slow part
        raise RlsightError(f"{min(len(random_a), len(random_b))} random networks: a test at {alpha:g} needs at "
                           f"least {min_networks(alpha)} of each architecture")
    pa, pb = pooled(fs_a.project(model_a, obs)), pooled(fs_b.project(model_b, obs))
    null_for_a = null_pooled(random_b, fs_b.layer, obs, fs_b.k, seed)
    null_for_b = null_pooled(random_a, fs_a.layer, obs, fs_a.k, seed)
    meta = {"frames": len(obs), "alpha": alpha, "random_networks": [len(random_a), len(random_b)],
            "layers": [fs_a.layer, fs_b.layer], "k": [fs_a.k, fs_b.k]}
    return FeatureComparison(match_features(fs_a, pa, pb, null_for_a, alpha),
                             match_features(fs_b, pb, pa, null_for_b, alpha), meta)
