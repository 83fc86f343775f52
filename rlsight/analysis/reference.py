"""Reference curves: the original project's rewards.json and published CSV learning curves.

Accepted files (a folder stands for the files in it, two levels deep):

- ``rewards.json`` with ``steps``, ``train_reward``, ``val_reward`` (the original
  project's reward rate per 256 steps, *not* episodic return);
- CSV files with ``total_timesteps`` and ``eprewmean`` columns (the Procgen
  paper's ``train_procgen`` format), named ``GAME-train-runK.csv`` or
  ``GAME-test-runK.csv``; ``fps`` gives a wall-time axis;
- CSV files with a ``step`` column and metric columns named as in metrics.csv.

The game is read from the file or folder name when it names a Procgen game.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from rlsight.analysis.inputs import Warn
from rlsight.analysis.metrics import METRICS, add_derived, empty, to_tidy
from rlsight.config import GAMES
from rlsight.errors import RlsightError

_RUN_SUFFIX = re.compile(r"[-_](train|test)([-_]run\d+)?$|[-_]run\d+$")


def load_references(paths: list[str | Path], warn: Warn) -> pd.DataFrame:
    """All reference curves named by ``paths`` as tidy rows with ``source == 'reference'``."""
    frames = [load_reference(Path(p), warn) for p in paths]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else empty()


def load_reference(path: Path, warn: Warn) -> pd.DataFrame:
    """Load reference curves from a CSV/rewards.json file or a folder of them (one level deep)."""
    if not path.exists():
        raise RlsightError(f"--reference {path}: no such file or folder")
    files = [path] if path.is_file() else sorted(
        p for p in [*path.glob("*"), *path.glob("*/*")] if p.is_file() and (p.suffix == ".csv" or p.name == "rewards.json")
    )
    frames = []
    for f in files:
        try:
            frames.append(_load_file(f, path))
        except RlsightError as e:
            if path.is_file():
                raise
            warn(f"{e}; skipped")
    frames = [f for f in frames if len(f)]
    if not frames:
        raise RlsightError(f"--reference {path}: no reference curves found (expected rewards.json, or CSV files "
                           "with total_timesteps,eprewmean or step,<metric> columns)")
    return pd.concat(frames, ignore_index=True)


def _load_file(f: Path, root: Path) -> pd.DataFrame:
    game = guess_game(f.stem) or guess_game(f.parent.name) or ""
    mode = "hard" if "hard" in str(f.relative_to(root.parent)).lower() else "easy"
    base = root.name if root.is_dir() else f.parent.name
    if f.suffix == ".json":
        wide = _original_rewards(f)
        group = f"ref: {f.parent.name}"
        run = f.parent.name
    elif f.suffix == ".csv":
        wide = _csv(f)
        stem = _RUN_SUFFIX.sub("", f.stem)
        group = f"ref: {base}" + (f" {game}" if game and game not in base else "")
        run = f"{base}/{stem}{_run_number(f.stem)}"
    else:
        raise RlsightError(f"{f}: not a reference file (rewards.json or .csv)")
    add_derived(wide, game, mode)
    return to_tidy(wide, run, group, game, source="reference")


def _run_number(stem: str) -> str:
    m = re.search(r"run\d+$", stem)
    return f"-{m.group(0)}" if m else ""


def _original_rewards(f: Path) -> pd.DataFrame:
    try:
        d = json.loads(f.read_text())
        wide = pd.DataFrame({"step": d["steps"], "train_reward_rate": d["train_reward"],
                             "test_reward_rate": d["val_reward"]}, dtype=float)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as e:
        raise RlsightError(f"{f}: not the original project's rewards.json format ({e})") from None
    wide["wall_time"] = math.nan
    return wide


def _csv(f: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(f)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise RlsightError(f"{f}: not a readable CSV file ({e})") from None
    if {"total_timesteps", "eprewmean"} <= set(raw.columns):
        split = "test" if re.search(r"(^|[-_])test([-_]|$)", f.stem) else "train"
        steps = raw["total_timesteps"].astype(float)
        wide = pd.DataFrame({"step": steps, f"{split}_return": raw["eprewmean"].astype(float)})
        if "eplenmean" in raw:
            wide[f"{split}_length"] = raw["eplenmean"].astype(float)
        if "fps" in raw:
            fps = raw["fps"].astype(float).where(lambda s: s > 0)
            wide["wall_time"] = (steps.diff().fillna(steps.iloc[0]) / fps).cumsum()
        return wide
    if "step" in raw.columns and set(raw.columns) & set(METRICS):
        cols = ["step", *(c for c in raw.columns if c in METRICS or c == "wall_time")]
        return raw[cols].astype(float)
    raise RlsightError(f"{f}: unknown CSV columns {list(raw.columns)[:6]}; expected total_timesteps,eprewmean "
                       "or step,<metric>")


def guess_game(name: str) -> str | None:
    """The Procgen game named in a file or folder name, if exactly one is."""
    flat = re.sub(r"[^a-z]", "", name.lower())
    hits = [g for g in GAMES if g in flat]
    return hits[0] if len(hits) == 1 else None

