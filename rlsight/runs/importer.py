"""Turn one of the original project's checkpoints into a run directory."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from rlsight.config import Config, parse_override, set_key, validate
from rlsight.config.schema import Game
from rlsight.errors import RlsightError
from rlsight.models import build_model
from rlsight.models.original_import import detect_model_config, read_foreign_checkpoint
from rlsight.runs.checkpoint import load_state_dict_checked, save_json, save_tensors
from rlsight.runs.rundir import MODEL, MODEL_META, RunDir

# What the original project's published models were trained with (shared/seed/NOTES.md);
# ``overrides`` change them for a checkpoint trained otherwise (e.g. with backgrounds).
ORIGINAL_ENV = {"distribution_mode": "easy", "use_backgrounds": False, "restrict_themes": True}
ORIGINAL_STEPS = 7_500_000
IMPORT_SECTIONS = ("env", "model")  # the config sections an import records


def import_checkpoint(checkpoint: str | Path, game: str, out: str | Path, num_levels: int = 500,
                      overrides: Sequence[str] = (), overwrite: bool = False) -> RunDir:
    """Write a run directory holding the checkpoint's weights, a config that
    describes them, and (when ``rewards.json`` lies beside it) its reward curve.

    The encoder is detected from the state dict. ``overrides`` are ``KEY=VALUE``
    settings of ``env.*`` and ``model.*`` keys the checkpoint was trained with
    (e.g. ``env.use_backgrounds=true``); one that contradicts the detected encoder
    is refused. Nothing is written when an argument is refused.
    """
    checkpoint = Path(checkpoint)
    sd = read_foreign_checkpoint(checkpoint)
    detected = detect_model_config(sd, str(checkpoint))
    cfg = Config()
    cfg.model = copy.deepcopy(detected)  # overrides change the config, not what was detected
    cfg.env.game = cast(Game, game)  # checked with the rest by validate(cfg) below
    cfg.env.num_levels = num_levels
    for k, v in ORIGINAL_ENV.items():
        setattr(cfg.env, k, v)
    for text in overrides:
        key, value = parse_override(text)
        if key.partition(".")[0] not in IMPORT_SECTIONS:
            raise RlsightError(f"--set {key}: an imported checkpoint records env.* and model.* keys only")
        set_key(cfg, key, value)
    if cfg.model.encoder != detected.encoder:
        raise RlsightError(f"--set model.encoder={cfg.model.encoder}: {checkpoint} holds a {detected.encoder} "
                           "encoder (detected from its state dict)")
    cfg.train.total_steps = ORIGINAL_STEPS
    validate(cfg)
    model = build_model(cfg.model)
    load_state_dict_checked(model, sd, checkpoint)
    run = RunDir.create(out, cfg, kind="imported", overwrite=overwrite)
    save_tensors(run.path / MODEL, model.state_dict(), {"step": ORIGINAL_STEPS})
    save_json(run.path / MODEL_META, {"step": ORIGINAL_STEPS, "config_hash": cfg.hash(), "encoder": cfg.model.encoder,
                                      "game": game, "source": str(checkpoint.resolve())})
    rewards = checkpoint.parent / "rewards.json"
    if rewards.is_file():
        run.write_metrics(_original_rows(rewards))
    run.update_info(status="finished", steps=ORIGINAL_STEPS, source=str(checkpoint.resolve()))
    return run


def _original_rows(path: Path) -> list[dict]:
    """The original project's per-update reward rates as metrics rows (returns left empty)."""
    try:
        d = json.loads(path.read_text())
        steps, tr, va = d["steps"], d["train_reward"], d["val_reward"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise RlsightError(f"{path}: not the original project's rewards.json format ({e})") from None
    return [
        {"update": i + 1, "step": int(s), "train_reward_rate": float(a), "test_reward_rate": float(b)}
        for i, (s, a, b) in enumerate(zip(steps, tr, va))
    ]
