"""Learned features of a model (NMF of a hidden layer, weighted by attribution),
compared across models and checked by ablation.

    fs = load_features("runs/a")          # a FeatureSet, or None when none stored
    fs.k, fs.layer, fs.labels, fs.shares
    maps = fs.project(model, obs_uint8)   # (N, k, h, w) float32 per-frame feature maps
"""

from rlsight.explain.features.store import FeatureInfo, FeatureSet, load_features, save_features

__all__ = ["FeatureInfo", "FeatureSet", "load_features", "save_features"]
