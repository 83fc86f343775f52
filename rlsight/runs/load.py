"""Load a run's network for readers (evaluate, saliency, notebooks)."""

from __future__ import annotations

import math
from pathlib import Path

from rlsight.config import Config
from rlsight.envs import family_of
from rlsight.errors import RunDirError
from rlsight.hardware import reader_device
from rlsight.models import ActorCritic
from rlsight.runs.checkpoint import load_json, load_state_dict_checked, load_tensors
from rlsight.runs.rundir import MODEL_META, RunDir


def build_model_for(cfg: Config) -> ActorCritic:
    """A freshly initialised actor-critic for a run: the frames and actions of ``cfg.env``'s family and game
    (with PPG's auxiliary value head when ``ppo.ppg_policy_phases`` > 0)."""
    fam = family_of(cfg.env)
    h, w, c = fam.obs_shape
    return ActorCritic(cfg.model, fam.action_count(cfg.env.game), (c, h, w), aux_value=cfg.ppo.ppg_policy_phases > 0)


def model_step(meta_file: Path) -> int:
    """The env step a model file's meta records; a value that is not a whole number is a
    one-line error naming the file."""
    meta = load_json(meta_file)
    step = meta.get("step", 0) if isinstance(meta, dict) else None
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) \
            or step != int(step) or step < 0:
        raise RunDirError(f"{meta_file}: \"step\" must be a whole number >= 0, not {step!r}")
    return int(step)


def load_policy(run: str | Path | RunDir, device: str = "cpu") -> tuple[ActorCritic, Config, int]:
    """(model in eval mode, the run's config, the env step of the weights)."""
    dev = reader_device(device)  # a bad --device fails before anything is read
    run = run if isinstance(run, RunDir) else RunDir.open(run)
    cfg = run.config()
    f = run.model_file()
    model = build_model_for(cfg)
    load_state_dict_checked(model, load_tensors(f), f)
    meta_file = f.parent / (MODEL_META if f.parent == run.path else "meta.json")
    step = model_step(meta_file) if meta_file.is_file() else 0
    return model.to(dev).eval(), cfg, step
