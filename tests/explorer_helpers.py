"""Runs with a model for the explorer tests: made-up metrics (``write_run``) plus the tiny
config's network with seeded random weights (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tests.analysis_helpers import write_run


def write_model_run(path: Path, seed: int = 0, **config) -> Path:
    """A finished run directory with metrics and a model.safetensors of random weights
    (``config``: more keys of the tiny config, as for ``write_run``)."""
    from rlsight.models import build_model
    from rlsight.runs.checkpoint import save_json, save_tensors
    from rlsight.runs.rundir import MODEL, MODEL_META, RunDir

    path.parent.mkdir(parents=True, exist_ok=True)
    write_run(path, seed=seed, **config)
    run = RunDir.open(path)
    cfg = run.config()
    torch.manual_seed(seed)
    model = build_model(cfg.model)
    save_tensors(path / MODEL, model.state_dict(), {"step": 1})
    save_json(path / MODEL_META, {"step": 1, "config_hash": cfg.hash(), "encoder": cfg.model.encoder})
    return path


def write_verdict(path: Path, method: str, target: str, verdict: str, model_step: int | None = None) -> None:
    """Store a faithfulness result of ``method`` for ``target`` in the run (as saliency-check would;
    ``model_step``: of the model checked)."""
    f = path / "explain" / "faithfulness.json"
    f.parent.mkdir(exist_ok=True)
    entry: dict = {"verdict": verdict, "checked": ["a", "b", "c"]}
    if model_step is not None:
        entry["check"] = {"model_step": model_step}
    f.write_text(json.dumps({"format": 1, "results": {method: {target: entry}}}))


def write_features(path: Path, k: int = 3, seed: int = 0) -> tuple[str, tuple[int, int, int]]:
    """Store k made-up non-negative feature directions at the run model's default layer
    (as ``rlsight features`` would store fitted ones); returns (layer, (C, h, w))."""
    import numpy as np

    from rlsight.explain.features import FeatureInfo, FeatureSet, save_features
    from rlsight.explain.features.layers import resolve_layer
    from rlsight.runs.load import load_policy

    model, _, _ = load_policy(path)
    layer, _, shape = resolve_layer(model, None)
    comps = np.random.default_rng(seed).random((k, shape[0])).astype(np.float32)
    infos = [FeatureInfo(i, f"<i>f{i}</i>", 0.1, 0.1) for i in range(k)]
    save_features(path, FeatureSet(layer, comps, infos))
    return layer, shape
