"""Ablation checked by behaviour: remove one feature's direction at its layer and
play held-out episodes with and without it.

The edit: at every position of the layer's output, the channel vector ``a`` loses
its component along the feature's unit direction ``u`` (its NMF component):
``a - (a . u) u``, a forward hook, nothing else changed. Both runs play the same
environments from the same seeds (the same levels in the same order, the same
action-sampling stream), so episode j of env i is paired; the change in return and
in episode length is the mean of the paired differences, with a bootstrap interval.
A change whose interval contains 0 is labelled "no significant change".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from rlsight.errors import RlsightError
from rlsight.explain.faithfulness.bootstrap import Interval, bootstrap_ci
from rlsight.explain.features.layers import resolve_layer
from rlsight.explain.features.store import FeatureSet

NO_CHANGE = "no significant change"


def check_feature(fs: FeatureSet, feature: int) -> None:
    """A one-line error unless ``feature`` is one of the set's indices."""
    if not 0 <= feature < fs.k:
        raise RlsightError(f"--feature {feature}: out of range; this run has {fs.k} features (0..{fs.k - 1})")


@contextmanager
def feature_removed(model: nn.Module, fs: FeatureSet, feature: int) -> Iterator[None]:
    """Within the block, ``model`` runs with ``feature``'s direction projected out of its layer's output."""
    check_feature(fs, feature)
    _, module, _ = resolve_layer(model, fs.layer)
    u = torch.as_tensor(fs.components[feature], dtype=torch.float32)
    u = u / u.norm().clamp(min=1e-12)

    def hook(_m, _inp, out: torch.Tensor) -> torch.Tensor:
        v = u.to(out.device, out.dtype).view(1, -1, 1, 1)
        return out - (out * v).sum(dim=1, keepdim=True) * v
    h = module.register_forward_hook(hook)
    try:
        yield
    finally:
        h.remove()


def _label(ci: Interval) -> str:
    if not (np.isfinite(ci.low) and np.isfinite(ci.high)) or ci.low <= 0 <= ci.high:
        return NO_CHANGE
    return "increase" if ci.low > 0 else "decrease"


def ablate_model(model: nn.Module, fs: FeatureSet, feature: int, make_env: Callable[[], object],
                 episodes_per_env: int, seed: int = 0, greedy: bool = False) -> dict:
    """Play ``episodes_per_env`` episodes on each env of ``make_env()`` with the model as
    is and with ``feature`` removed (fresh envs, same seeds); returns the per-episode
    returns and lengths of both and the paired changes with bootstrap 95% intervals."""
    from rlsight.evaluation import run_episode_stats

    check_feature(fs, feature)
    results = {}
    for name in ("baseline", "ablated"):
        torch.manual_seed(seed)
        env = make_env()
        try:
            if name == "ablated":
                with feature_removed(model, fs, feature):
                    results[name] = run_episode_stats(model, env, episodes_per_env, greedy=greedy)
            else:
                results[name] = run_episode_stats(model, env, episodes_per_env, greedy=greedy)
        finally:
            env.close()  # type: ignore[attr-defined]
    (rb, lb), (ra, la) = results["baseline"], results["ablated"]
    d_ret = bootstrap_ci((ra - rb).ravel(), seed=seed)
    d_len = bootstrap_ci((la - lb).ravel().astype(np.float64), seed=seed)
    label = NO_CHANGE if _label(d_ret) == NO_CHANGE and _label(d_len) == NO_CHANGE else "significant change"
    return {"feature": feature, "label": fs.features[feature].label, "layer": fs.layer,
            "episodes": int(rb.size), "greedy": greedy, "seed": seed,
            "baseline_return": float(rb.mean()), "ablated_return": float(ra.mean()),
            "baseline_length": float(lb.mean()), "ablated_length": float(la.mean()),
            "return_change": d_ret.as_dict(), "length_change": d_len.as_dict(),
            "return_verdict": _label(d_ret), "length_verdict": _label(d_len), "verdict": label,
            "returns": {"baseline": rb.ravel().tolist(), "ablated": ra.ravel().tolist()},
            "lengths": {"baseline": lb.ravel().tolist(), "ablated": la.ravel().tolist()}}
