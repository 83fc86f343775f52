"""The summary table: final scores with intervals, cost, and the hyperparameters that differ."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlsight.analysis import stats
from rlsight.analysis.groups import SEED_KEY, differing_keys, format_value
from rlsight.analysis.inputs import RunInfo

SCORES = ["train_return", "test_return", "gap", "test_norm_return"]
RATES = ["train_reward_rate", "test_reward_rate"]
RAW = {"train_return", "test_return", "gap", *RATES}  # not comparable across games


def final_values(df: pd.DataFrame) -> pd.DataFrame:
    """Per (source, run): the last value of every metric, and the last step and wall time."""
    df = df.sort_values(["run", "step"], kind="stable")
    last = df.groupby(["source", "run", "metric"], sort=False, observed=True)["value"].last().unstack("metric")
    # plain labels: pandas 2.3 cannot join on the categorical column index unstack leaves
    last.columns = pd.Index([str(c) for c in last.columns], name="metric")
    ends = df.groupby(["source", "run"], sort=False, observed=True).agg(
        steps=("step", "max"), wall_time=("wall_time", "max"), game=("game", "first"), group=("group", "first"))
    out = ends.join(last)
    out["sps"] = out["steps"] / out["wall_time"].where(out["wall_time"] > 0)
    return out


def summary_table(df: pd.DataFrame, runs: list[RunInfo], per_run: bool = False,
                  reps: int = stats.DEFAULT_REPS) -> pd.DataFrame:
    """One row per group (or per run): final train/test return with a 95% bootstrap
    interval over runs, gap, normalised test return (IQM with a stratified
    bootstrap when a group spans several games), steps, wall time, SPS, and the
    config keys that differ between the compared runs."""
    games = {r.game for r in runs}
    df = df[(df["source"] == "run") | df["game"].isin(games | {""})]  # references of the compared games
    finals = final_values(df)
    scores = SCORES + [r for r in RATES if r in finals.columns and finals[r].notna().any()]
    scores = [s for s in scores if s in finals.columns]
    replicated = not per_run and len({r.group for r in runs}) < len(runs)
    keys = differing_keys([r.config for r in runs], exclude=(SEED_KEY,) if replicated else ())
    by_label = {r.label: r for r in runs}
    rows = []
    for (source, name), part in _units(finals, per_run, [r.label for r in runs]):
        members = [by_label[r] for r in part.index.get_level_values("run") if source == "run" and r in by_label]
        unit_games = list(dict.fromkeys(part["game"].astype(str)))
        row: dict = {"group" if not per_run else "run": name, "source": source, "runs": len(part),
                     "game": ", ".join(g for g in unit_games if g)}
        for s in scores:
            vals = part[s].to_numpy(dtype=float) if s in part else np.full(len(part), np.nan)
            multi = len(unit_games) > 1
            if multi and s in RAW:
                row[s] = row[f"{s}_lo"] = row[f"{s}_hi"] = np.nan
                continue
            point, lo, hi = stats.estimate(vals, part["game"].to_numpy(), "iqm" if multi else "mean", reps=reps)
            row[s], row[f"{s}_lo"], row[f"{s}_hi"] = float(point[0]), float(lo[0]), float(hi[0])
        for c in ("steps", "wall_time", "sps"):
            row[c] = float(np.nanmean(part[c])) if part[c].notna().any() else np.nan
        for k in keys:
            vals = list(dict.fromkeys(format_value(m.config.get(k)) for m in members))
            row[k] = " | ".join(vals)
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["keys"] = keys
    table.attrs["scores"] = scores
    return table


def _units(finals: pd.DataFrame, per_run: bool, order: list[str]):
    """(source, name) and rows: the compared runs' groups in the order given, then references."""
    rank = {name: i for i, name in enumerate(order)}
    key = "run" if per_run else "group"
    flat = finals.reset_index()
    flat["_rank"] = [rank.get(r, len(rank)) if src == "run" else len(rank) + 1
                     for src, r in zip(flat["source"], flat["run"])]
    first = flat.groupby(["source", key], sort=False, observed=True)["_rank"].transform("min")
    flat = flat.assign(_first=first).sort_values(["_first", key], kind="stable")
    for (source, name), part in flat.groupby(["source", key], sort=False, observed=True):
        yield (source, name), part.set_index(["source", "run"])
