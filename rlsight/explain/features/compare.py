"""Features across two models, on the same frames.

Each feature is summarised by its pooled activation: the spatial mean of its map,
one number per frame. Feature i of model A is matched to the feature of B whose
pooled activation correlates best with it over the frames (Pearson). It *lacks a
match* when that best correlation is below the 95th percentile of its
correlations with the features of random-weights networks of B's architecture
(the null: what correlation an untrained network of that shape reaches by
chance). The same the other way round. The encoders may differ: only the frames
are shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from torch import nn

from rlsight.explain.features.layers import activations, resolve_layer
from rlsight.explain.features.nmf import fit_nmf
from rlsight.explain.features.store import FeatureSet

NULL_QUANTILE = 95.0
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
    null_threshold: float
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


def null_pooled(random_models: Sequence[nn.Module], layer: str, obs: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """(N, R*k'): the pooled NMF features (k' = min(k, channels)) of each random-weights
    network at ``layer`` on ``obs``, side by side."""
    cols = []
    for r, m in enumerate(random_models):
        _, module, (channels, _, _) = resolve_layer(m, layer)
        _, maps = fit_nmf(activations(m, module, obs), min(k, channels), seed + r, max_rows=NULL_FIT_ROWS)
        cols.append(pooled(maps))
    return np.concatenate(cols, axis=1)


def match_features(fs: FeatureSet, own: np.ndarray, other: np.ndarray, null: np.ndarray,
                   quantile: float = NULL_QUANTILE) -> list[Match]:
    """Match each feature of ``fs`` (pooled activations ``own`` (N, k)) against the other
    model's pooled features ``other`` (N, k2), with the null ``null`` (N, m)."""
    corr = correlations(own, other)
    thresholds = np.percentile(correlations(own, null), quantile, axis=1)
    out = []
    for i, info in enumerate(fs.features):
        j = int(np.argmax(corr[i]))
        out.append(Match(i, info.label, info.value_share, info.policy_share, j, float(corr[i, j]),
                         float(thresholds[i]), bool(corr[i, j] >= thresholds[i])))
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
                     quantile: float = NULL_QUANTILE, seed: int = 0) -> FeatureComparison:
    """Compare A's and B's features on the same frames ``obs``; ``random_a``/``random_b``
    are random-weights networks of A's/B's architecture (the nulls for B's/A's features)."""
    pa, pb = pooled(fs_a.project(model_a, obs)), pooled(fs_b.project(model_b, obs))
    null_for_a = null_pooled(random_b, fs_b.layer, obs, fs_b.k, seed)
    null_for_b = null_pooled(random_a, fs_a.layer, obs, fs_a.k, seed)
    meta = {"frames": len(obs), "quantile": quantile, "random_networks": [len(random_a), len(random_b)],
            "layers": [fs_a.layer, fs_b.layer], "k": [fs_a.k, fs_b.k]}
    return FeatureComparison(match_features(fs_a, pa, pb, null_for_a, quantile),
                             match_features(fs_b, pb, pa, null_for_b, quantile), meta)
