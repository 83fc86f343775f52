"""Curves per group on a common x grid: smoothing, alignment, mean or IQM, bootstrap bands."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rlsight.analysis import stats
from rlsight.analysis.inputs import Warn
from rlsight.analysis.metrics import label
from rlsight.errors import RlsightError

MAX_POINTS = 400


@dataclass
class Series:
    """One line (with an optional band) in a panel."""

    label: str
    kind: str  # "group", "reference" or "run"
    runs: list[str]
    games: list[str]
    stat: str
    y: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    count: np.ndarray  # runs with a value at each grid point

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """The curve where every run of the series has a value, and where only some do
        (a run ended early or started late; the mean moves there because runs drop out,
        not because the agents changed). The second part repeats the first's points at
        their borders, so that the two join; it is all NaN when every run spans the curve."""
        full = self.count >= len(self.runs)
        some = (self.count > 0) & ~full
        border = full & (np.r_[some[1:], False] | np.r_[False, some[:-1]])
        return np.where(full, self.y, np.nan), np.where(some | border, self.y, np.nan)


@dataclass
class Panel:
    """One chart: a metric, for one game (or all games pooled)."""

    metric: str
    game: str | None
    x: str
    grid: np.ndarray
    series: list[Series] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The chart title: the metric's label and the game (or "all games")."""
        where = self.game if self.game else "all games"
        return f"{label(self.metric)} · {where}"


def present_metrics(df: pd.DataFrame, metrics: list[str], warn: Warn) -> list[str]:
    """Metrics that some run has; warn naming the runs that lack each one."""
    runs = df[df["source"] == "run"]
    names = list(dict.fromkeys(runs["run"]))
    have = runs.groupby("metric", observed=True)["run"].unique()
    out = []
    for m in metrics:
        with_m = set(have.get(m, []))
        if not with_m:
            if (df["metric"] == m).any():
                warn(f"metric '{m}' is in none of the runs, only in the reference curves")
                out.append(m)
                continue
            hint = ""
            if m.endswith("_return") and "test_reward_rate" in have.index:
                hint = " (imported seed runs have only train_reward_rate and test_reward_rate)"
            warn(f"metric '{m}' is in none of the runs{hint}")
            continue
        missing = [n for n in names if n not in with_m]
        if missing:
            warn(f"metric '{m}' is missing in {len(missing)} of {len(names)} runs: {', '.join(missing)}")
        out.append(m)
    if not out:
        raise RlsightError(f"none of the runs has the metric{'s' if len(metrics) > 1 else ''} {', '.join(metrics)}")
    return out


def build_panels(df: pd.DataFrame, metrics: list[str], x: str = "step", smooth: int = 1, stat: str = "auto",
                 reps: int = stats.DEFAULT_REPS, clip_reference: bool = True, with_runs: bool = False,
                 warn: Warn = lambda m: None, max_points: int = MAX_POINTS) -> list[Panel]:
    """Panels (metric x game) of group curves with 95% bootstrap bands, plus reference curves."""
    if smooth < 1:
        raise RlsightError(f"--smooth {smooth}: must be >= 1 (points in the moving average)")
    if stat not in ("auto", *stats.STATS):
        raise RlsightError(f"stat {stat!r}: expected auto, mean or iqm")
    df = df[np.isfinite(df[x].to_numpy(dtype=float))] if x == "wall_time" else df
    runs = df[df["source"] == "run"]
    refs = df[df["source"] == "reference"]
    group_games = runs.groupby("group", sort=False, observed=True)["game"].unique()
    per_game = all(len(g) == 1 for g in group_games)
    games: list[str | None] = list(dict.fromkeys(runs["game"])) if per_game else [None]
    panels = []
    for m in metrics:
        if not per_game and not m.endswith("norm_return"):
            warn(f"groups mix games ({', '.join(dict.fromkeys(runs['game']))}); '{m}' is pooled across games "
                 "with the interquartile mean; raw scores of different games are not comparable: "
                 "prefer --metric test_norm_return")
        for game in games:
            r = runs[(runs["metric"] == m) & ((runs["game"] == game) if game else True)]
            f = refs[(refs["metric"] == m) & ((refs["game"] == game) | (refs["game"] == "") if game else True)]
            if r.empty and f.empty:
                continue
            if clip_reference and not r.empty and not f.empty:
                f = f[f[x] <= r[x].max() * 1.02]
            panel = Panel(m, game, x, _grid(pd.concat([r[x], f[x]]).to_numpy(dtype=float), max_points))
            for kind, part in (("group", r), ("reference", f)):
                for g, rows in part.groupby("group", sort=False, observed=True):
                    panel.series.append(_aggregate(rows, str(g), kind, x, panel.grid, smooth, stat, reps))
            if with_runs:
                for name, rows in r.groupby("run", sort=False, observed=True):
                    panel.series.append(_aggregate(rows, str(name), "run", x, panel.grid, smooth, "mean", 0))
            panels.append(panel)
    return panels


def _grid(xs: np.ndarray, max_points: int) -> np.ndarray:
    u = np.unique(xs[np.isfinite(xs)])
    if len(u) <= max_points:
        return u
    return u[np.unique(np.linspace(0, len(u) - 1, max_points).round().astype(int))]


def _aggregate(rows: pd.DataFrame, name: str, kind: str, x: str, grid: np.ndarray, smooth: int, stat: str,
               reps: int) -> Series:
    mats, games, runs = [], [], []
    for run, rr in rows.groupby("run", sort=False, observed=True):
        mats.append(run_on_grid(rr[x].to_numpy(dtype=float), rr["value"].to_numpy(dtype=float), grid, smooth))
        games.append(str(rr["game"].iloc[0]))
        runs.append(str(run))
    values = np.vstack(mats)
    use = stat if stat != "auto" else ("iqm" if len(set(games)) > 1 else "mean")
    if len(runs) == 1 or reps <= 0:
        y, lo, hi = stats.STATS[use](values, 0), np.full(len(grid), np.nan), np.full(len(grid), np.nan)
    else:
        y, lo, hi = stats.estimate(values, games, use, reps=reps)
    return Series(name, kind, runs, sorted(set(games)), use, y, lo, hi, np.isfinite(values).sum(axis=0))


def run_on_grid(xs: np.ndarray, ys: np.ndarray, grid: np.ndarray, smooth: int = 1) -> np.ndarray:
    """One run's curve, smoothed (trailing moving average over ``smooth`` points) and
    interpolated onto ``grid``; NaN outside the run's own x range."""
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if len(xs) == 0:
        return np.full(len(grid), np.nan)
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    if smooth > 1:
        ys = pd.Series(ys).rolling(smooth, min_periods=1).mean().to_numpy()
    keep = np.r_[xs[1:] != xs[:-1], True]  # one value per x: the last
    xs, ys = xs[keep], ys[keep]
    out = np.interp(grid, xs, ys)
    out[(grid < xs[0]) | (grid > xs[-1])] = np.nan
    return out
