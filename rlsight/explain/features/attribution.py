"""Attribution of the value and of the policy to a hidden layer, with Captum.

``ig`` (default) is Captum's ``LayerIntegratedGradients`` from a black frame, as in
"Understanding RL Vision" (Hilton et al. 2020): it satisfies completeness (a
frame's attributions sum to the output's change from the black frame), so a
feature's share of the attribution is a share of the output. ``gxa`` is
``LayerGradientXActivation``: one gradient per frame instead of ``steps``,
``steps`` times faster, but a local (first-order) account only.

Targets: the value, and the log-probability of the action the policy took on the
frame (the state dataset's recorded action).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rlsight.errors import RlsightError
from rlsight.explain.features.layers import _device, to_float

METHODS = ("ig", "gxa")


def _value(model: nn.Module):
    return lambda x: model(x)[1]


def _log_prob(model: nn.Module):
    return lambda x: torch.log_softmax(model(x)[0].float(), dim=-1)


def layer_attribution(model: nn.Module, module: nn.Module, obs: np.ndarray, actions: np.ndarray | None,
                      target: str, method: str = "ig", steps: int = 8, batch: int = 32) -> np.ndarray:
    """float32 (N, C, h, w): attribution of ``target`` ("value" or "policy": the
    log-probability of ``actions``) to ``module``'s output on uint8 frames ``obs``."""
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    if method not in METHODS:
        raise RlsightError(f"--attribution {method!r}: valid: {', '.join(METHODS)}")
    if target not in ("value", "policy"):
        raise RlsightError(f"attribution target {target!r}: valid: value, policy")
    if method == "ig" and steps < 1:
        raise RlsightError(f"--steps {steps}: must be >= 1")
    fn = _value(model) if target == "value" else _log_prob(model)
    attr = LayerIntegratedGradients(fn, module) if method == "ig" else LayerGradientXActivation(fn, module)
    dev = _device(model)
    out = []
    for i in range(0, len(obs), batch):
        x = to_float(obs[i:i + batch], dev)
        tgt = None if target == "value" else torch.as_tensor(actions[i:i + batch], device=dev).long()
        if method == "ig":
            a = attr.attribute(x, baselines=torch.zeros_like(x), target=tgt, n_steps=steps,
                               internal_batch_size=len(x) * steps)
        else:
            a = attr.attribute(x, target=tgt)
        out.append(a.detach().float().cpu().numpy())
    return np.concatenate(out)


def feature_attribution(attr: np.ndarray, maps: np.ndarray, components: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """(N, k): each feature's part of a frame's |attribution|. At each position the
    attribution of channel c is split between the features in proportion to their
    contribution ``maps[j] * components[j, c]`` to the reconstructed activation;
    where nothing is reconstructed it belongs to no feature."""
    recon = np.einsum("njyx,jc->ncyx", maps, components, optimize=True)
    ratio = np.where(recon > eps, np.abs(attr) / np.maximum(recon, eps), 0.0)
    return np.einsum("njyx,jc,ncyx->nj", maps, components, ratio, optimize=True).astype(np.float64)
