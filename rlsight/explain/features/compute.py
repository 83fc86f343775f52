"""Features of one model on a set of frames: attribution to a layer, NMF, shares,
top dataset examples -> a FeatureSet."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
from torch import nn

from rlsight.explain.features.attribution import feature_attribution, layer_attribution
from rlsight.explain.features.layers import activations, resolve_layer
from rlsight.explain.features.nmf import check_k, fit_nmf, top_examples
from rlsight.explain.features.store import FeatureInfo, FeatureSet

DEFAULT_K = 8


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def compute_features(model: nn.Module, obs: np.ndarray, actions: np.ndarray, k: int = DEFAULT_K,
                     layer: str | None = None, method: str = "ig", steps: int = 8, seed: int = 0, top: int = 8,
                     say: Callable[[str], None] = _say) -> FeatureSet:
    """k NMF features of ``model``'s activation at ``layer`` (default: the deepest spatial
    layer) over uint8 frames ``obs`` (N, 64, 64, 3), ordered by their mean share of the
    value and policy attribution (``F0`` carries the most); ``actions`` are the actions
    taken on the frames (the policy target)."""
    name, module, (channels, h, w) = resolve_layer(model, layer)
    check_k(k, channels, name)
    t0 = time.perf_counter()
    acts = activations(model, module, obs)
    comps, maps = fit_nmf(acts, k, seed)
    t_nmf = time.perf_counter()
    say(f"NMF of {name} ({channels} channels, {h}x{w}) over {len(obs)} frames into {k} features: "
        f"{t_nmf - t0:.1f} s; attributing value and policy ({method})")
    per_frame, totals = {}, {}
    for target in ("value", "policy"):
        attr = layer_attribution(model, module, obs, actions, target, method, steps)
        per_frame[target] = feature_attribution(attr, maps, comps)
        totals[target] = float(np.abs(attr).sum())
    shares = {t: per_frame[t].sum(axis=0) / max(totals[t], 1e-30) for t in per_frame}
    order = np.argsort(-(shares["value"] + shares["policy"]), kind="stable")
    comps, maps = comps[order], maps[:, order]
    infos = [FeatureInfo(i, f"F{i}", float(shares["value"][j]), float(shares["policy"][j]))
             for i, j in enumerate(order)]
    arrays = {"maps": maps.astype(np.float16), "pooled": maps.mean(axis=(2, 3)).astype(np.float32),
              "mean_maps": maps.mean(axis=0).astype(np.float32),
              "value_attribution": per_frame["value"][:, order].astype(np.float32),
              "policy_attribution": per_frame["policy"][:, order].astype(np.float32),
              **top_examples(maps, obs, top)}
    meta = {"channels": channels, "map_hw": [h, w], "frames": len(obs), "attribution": method,
            "ig_steps": steps if method == "ig" else None, "nmf_seed": seed,
            "nmf_relative_error": float(np.linalg.norm(acts - np.einsum("njyx,jc->ncyx", maps, comps))
                                        / max(float(np.linalg.norm(acts)), 1e-30)),
            "seconds": round(time.perf_counter() - t0, 2)}
    return FeatureSet(name, comps, infos, meta, arrays)
