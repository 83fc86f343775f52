"""Turn one of the seed project's checkpoints into a run directory."""

from __future__ import annotations

import json
from pathlib import Path

from rlsight.config import Config, validate
from rlsight.errors import RlsightError
from rlsight.models import build_model
from rlsight.models.seed_import import detect_model_config, read_foreign_checkpoint
from rlsight.runs.checkpoint import load_state_dict_checked, save_json, save_tensors
from rlsight.runs.rundir import MODEL, MODEL_META, RunDir

# What the seed's published models were trained with (shared/seed/NOTES.md).
SEED_ENV = {"distribution_mode": "easy", "use_backgrounds": False, "restrict_themes": True}
SEED_STEPS = 7_500_000


def import_seed(checkpoint: str | Path, game: str, out: str | Path, num_levels: int = 500,
                overwrite: bool = False) -> RunDir:
    """Write a run directory holding the checkpoint's weights, a config that
    describes them, and (when ``rewards.json`` lies beside it) its reward curve."""
    checkpoint = Path(checkpoint)
    sd = read_foreign_checkpoint(checkpoint)
    cfg = Config()
    cfg.model = detect_model_config(sd, str(checkpoint))
    cfg.env.game = game
    cfg.env.num_levels = num_levels
    for k, v in SEED_ENV.items():
        setattr(cfg.env, k, v)
    cfg.train.total_steps = SEED_STEPS
    validate(cfg)
    model = build_model(cfg.model)
    load_state_dict_checked(model, sd, checkpoint)
    run = RunDir.create(out, cfg, kind="imported", overwrite=overwrite)
    save_tensors(run.path / MODEL, model.state_dict(), {"step": SEED_STEPS})
    save_json(run.path / MODEL_META, {"step": SEED_STEPS, "config_hash": cfg.hash(), "encoder": cfg.model.encoder,
                                      "game": game, "source": str(checkpoint.resolve())})
    rewards = checkpoint.parent / "rewards.json"
    if rewards.is_file():
        run.write_metrics(_seed_rows(rewards))
    run.update_info(status="finished", steps=SEED_STEPS, source=str(checkpoint.resolve()))
    return run


def _seed_rows(path: Path) -> list[dict]:
    """The seed's per-update reward rates as metrics rows (returns left empty)."""
    try:
        d = json.loads(path.read_text())
        steps, tr, va = d["steps"], d["train_reward"], d["val_reward"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise RlsightError(f"{path}: not the seed's rewards.json format ({e})") from None
    return [
        {"update": i + 1, "step": int(s), "train_reward_rate": float(a), "test_reward_rate": float(b)}
        for i, (s, a, b) in enumerate(zip(steps, tr, va))
    ]
