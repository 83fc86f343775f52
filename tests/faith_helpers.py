"""Run directories holding an untrained tiny model (no training): for the faithfulness-check tests."""

from __future__ import annotations

from pathlib import Path

import torch

from rlsight.models import build_model
from rlsight.runs import RunDir
from rlsight.runs.checkpoint import save_json, save_tensors
from rlsight.runs.rundir import MODEL, MODEL_META
from tests.conftest import tiny_config


def model_run(path: Path, game: str = "starpilot", seed: int = 0, step: int = 1000, **overrides) -> Path:
    """A finished run whose model is the tiny Nature-DQN network with seeded random weights
    (``overrides``: config keys as ``env__num_levels=0``)."""
    cfg = tiny_config(env__game=game, **overrides)
    run = RunDir.create(path, cfg, kind="imported")
    torch.manual_seed(seed)
    model = build_model(cfg.model)
    save_tensors(run.path / MODEL, model.state_dict(), {"step": step})
    save_json(run.path / MODEL_META, {"step": step, "config_hash": cfg.hash(), "encoder": cfg.model.encoder,
                                      "game": game})
    run.update_info(status="finished", steps=step)
    return path
