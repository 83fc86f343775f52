"""Metric names, derived metrics, and the tidy (long) table of many runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rlsight.analysis.inputs import RunInfo
from rlsight.envs import DEFAULT_FAMILY, get_family
from rlsight.errors import RlsightError
from rlsight.runs import METRIC_COLUMNS

TIDY_COLUMNS = ["run", "group", "game", "source", "step", "wall_time", "metric", "value"]
LABEL_COLUMNS = ["run", "group", "game", "source", "metric"]
_AXES = ("update", "step", "wall_time")
DERIVED = {
    "train_norm_return": "normalised train return (the published range of the run's family)",
    "test_norm_return": "normalised test return (the published range of the run's family)",
    "gap": "generalisation gap: train return - test return",
}
METRICS = [c for c in METRIC_COLUMNS if c not in _AXES] + list(DERIVED)
LABELS = {
    "train_return": "train return", "test_return": "test return (held-out)",
    "train_norm_return": "normalised train return", "test_norm_return": "normalised test return",
    "train_reward_rate": "train reward rate (per 256 steps)", "test_reward_rate": "test reward rate (per 256 steps)",
    "gap": "generalisation gap (train - test return)", "sps": "steps per second",
    "rollout_time": "seconds collecting the rollout (per update)", "learn_time": "seconds learning (per update)",
}
X_AXES = {"steps": "step", "step": "step", "wall_time": "wall_time", "time": "wall_time"}


def label(metric: str) -> str:
    """A metric's display label (without one: its name, underscores as spaces)."""
    return LABELS.get(metric, metric.replace("_", " "))


def check_metric(metric: str) -> str:
    """Return ``metric`` if it is a known metric; else raise RlsightError listing them."""
    if metric not in METRICS:
        raise RlsightError(f"unknown metric '{metric}'; valid: {', '.join(METRICS)}")
    return metric


def check_x(x: str) -> str:
    """The frame column for an x-axis name (steps, wall_time or an alias); else RlsightError."""
    if x not in X_AXES:
        raise RlsightError(f"--x {x!r}: expected steps or wall_time")
    return X_AXES[x]


def run_frame(run: RunInfo) -> pd.DataFrame:
    """One run's metrics.csv as a wide frame, with the derived columns added."""
    rows = run.run.metrics() if run.run is not None else []
    wide = pd.DataFrame(rows, columns=METRIC_COLUMNS, dtype=float)
    add_derived(wide, run.game, run.mode, run.family)
    return wide


def add_derived(wide: pd.DataFrame, game: str, mode: str, family: str = DEFAULT_FAMILY) -> None:
    """Add normalised returns (where the paper has constants) and the gap, in place."""
    normalized_return = get_family(family).normalized_return
    for split in ("train", "test"):
        col = f"{split}_return"
        if col in wide:
            lo, hi = normalized_return(game, mode, 0.0), normalized_return(game, mode, 1.0)
            if lo is None or hi is None:  # both or neither: None where the paper has no constants
                wide[f"{split}_norm_return"] = math.nan
            else:
                wide[f"{split}_norm_return"] = lo + wide[col] * (hi - lo)
    if "train_return" in wide and "test_return" in wide:
        wide["gap"] = wide["train_return"] - wide["test_return"]


def to_tidy(wide: pd.DataFrame, run: str, group: str, game: str, source: str = "run") -> pd.DataFrame:
    """Wide metrics -> rows of (run, group, game, source, step, wall_time, metric, value), NaN dropped."""
    if "wall_time" not in wide:
        wide = wide.assign(wall_time=math.nan)
    cols = [c for c in wide.columns if c not in _AXES]
    long = wide.melt(id_vars=["step", "wall_time"], value_vars=cols, var_name="metric", value_name="value")
    long = long[np.isfinite(long["value"].to_numpy(dtype=float))]
    long.insert(0, "source", source)
    long.insert(0, "game", game)
    long.insert(0, "group", group)
    long.insert(0, "run", run)
    return long[TIDY_COLUMNS].reset_index(drop=True)


def tidy_runs(runs: list[RunInfo]) -> pd.DataFrame:
    """All runs' metrics in one tidy (long) frame; an empty tidy frame when none has rows."""
    frames = [to_tidy(run_frame(r), r.label, r.group, r.game) for r in runs]
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty()
    return pd.concat(frames, ignore_index=True)


def empty() -> pd.DataFrame:
    """A tidy frame with no rows and the tidy columns' dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=float if c in ("step", "wall_time", "value") else object)
                         for c in TIDY_COLUMNS})
