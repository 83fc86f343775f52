"""Static comparison plots with matplotlib (no pyplot state: safe in scripts and notebooks)."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, FuncFormatter

from rlsight.analysis.curves import Panel, build_panels, present_metrics
from rlsight.analysis.inputs import Warn
from rlsight.analysis.metrics import check_metric, check_x, label
from rlsight.analysis.stats import DEFAULT_REPS
from rlsight.errors import RlsightError

GROUP_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                "#bcbd22", "#7f7f7f"]
PARTIAL_STYLE = ":"  # where only some of a group's runs have a value
# reference curves: dashed kinds, none of them the dotted PARTIAL_STYLE
REF_STYLES = [("#222222", "--"), ("#666666", (0, (8, 2))), ("#444444", "-."), ("#888888", (0, (5, 1, 1, 1)))]


def resolve_metrics(frame: pd.DataFrame, metric: str | list[str]) -> list[str]:
    """'auto' picks test return, else the original project's test reward rate; 'a,b' is a list."""
    names = metric.split(",") if isinstance(metric, str) else list(metric)
    names = [m.strip() for m in names if m.strip()]
    if not names:
        raise RlsightError(f"metric {metric!r}: name one or more metrics, or 'auto'")
    if names == ["auto"]:
        have = set(frame.loc[frame["source"] == "run", "metric"])
        for m in ("test_return", "test_reward_rate", "train_return", "train_reward_rate"):
            if m in have:
                return [m]
        return ["test_return"]
    return [check_metric(m) for m in names]


def colors(labels: list[str], kind: str) -> dict[str, tuple[str, object]]:
    """Stable (colour, line style) per series label."""
    if kind == "reference":
        return {lab: REF_STYLES[i % len(REF_STYLES)] for i, lab in enumerate(labels)}
    return {lab: (GROUP_COLORS[i % len(GROUP_COLORS)], "-") for i, lab in enumerate(labels)}


def plot_frame(frame: pd.DataFrame, metric: str | list[str] = "auto", x: str = "steps", smooth: int = 1,
               stat: str = "auto", show_runs: bool = False, clip_reference: bool = True, title: str | None = None,
               warn: Warn = lambda m: None, reps: int = DEFAULT_REPS) -> Figure:
    """Draw the panels of a tidy frame (see :func:`rlsight.load_runs`) and return the Figure."""
    xcol = check_x(x)
    metrics = present_metrics(frame, resolve_metrics(frame, metric), warn)
    panels = build_panels(frame, metrics, xcol, smooth, stat, reps=reps, clip_reference=clip_reference,
                          with_runs=show_runs, warn=warn)
    games = list(dict.fromkeys(p.game for p in panels))
    by_metric = len(metrics) > 1 and len(games) > 1  # rows: metrics, columns: games
    rows, cols = (len(metrics), len(games)) if by_metric else _grid_shape(len(panels))
    fig = Figure(figsize=(4.6 * cols + 0.4, 3.4 * rows + 1.0), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    group_style = colors(list(dict.fromkeys(s.label for p in panels for s in p.series if s.kind == "group")), "group")
    ref_style = colors(list(dict.fromkeys(s.label for p in panels for s in p.series if s.kind == "reference")),
                       "reference")
    handles: dict[str, Artist] = {}
    used = set()
    for i, p in enumerate(panels):
        r, c = (metrics.index(p.metric), games.index(p.game)) if by_metric else divmod(i, cols)
        ax = axes[r][c]
        used.add((r, c))
        _draw(ax, p, group_style, ref_style, handles)
        ax.set_title(p.game or "all games (IQM)", fontsize=10)
        ax.set_ylabel(label(p.metric), fontsize=9)
        ax.set_xlabel("environment steps" if xcol == "step" else "wall time", fontsize=9)
        ax.xaxis.set_major_formatter(EngFormatter(sep="") if xcol == "step" else FuncFormatter(_clock))
        ax.grid(alpha=0.25)
        ax.tick_params(labelsize=8)
    for r in range(rows):
        for c in range(cols):
            if (r, c) not in used:
                axes[r][c].set_visible(False)
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
               ncols=min(4, max(1, len(handles))), fontsize=8, frameon=False)
    chars = int(fig.get_figwidth() * 72 / (10 * 0.55))  # about this many 10-point characters fit a line
    fig.suptitle(title or "\n".join(textwrap.fill(line, chars) for line in _subtitle(panels, smooth).split("\n")),
                 fontsize=10)
    return fig


def _draw(ax, p: Panel, group_style: dict, ref_style: dict, handles: dict[str, Artist]) -> None:
    for s in p.series:
        if s.kind == "run":
            color = group_style.get(_group_of(p, s.runs[0]), ("#999999", "-"))[0]
            ax.plot(p.grid, s.y, color=color, lw=0.6, alpha=0.45)
            continue
        color, ls = (group_style if s.kind == "group" else ref_style)[s.label]
        n = len(s.runs)
        name = s.label + (f" (n={n}{', IQM' if s.stat == 'iqm' else ''})" if n > 1 else "")
        full, partial = s.split()
        (line,) = ax.plot(p.grid, full, color=color, ls=ls, lw=1.6 if s.kind == "group" else 1.2)
        if np.isfinite(partial).any():
            ax.plot(p.grid, partial, color=color, ls=PARTIAL_STYLE, lw=1.2)
        if np.isfinite(s.lo).any():
            ax.fill_between(p.grid, s.lo, s.hi, color=color, alpha=0.2 if s.kind == "group" else 0.12, lw=0)
        handles.setdefault(name, line)


def _group_of(p: Panel, run: str) -> str:
    for s in p.series:
        if s.kind == "group" and run in s.runs:
            return s.label
    return ""


def _grid_shape(n: int) -> tuple[int, int]:
    cols = min(n, 3)
    return math.ceil(n / cols), cols


def _subtitle(panels: list[Panel], smooth: int) -> str:
    banded = any(np.isfinite(s.lo).any() for p in panels for s in p.series)
    first = "lines: mean over runs (IQM where a group spans games)" + ("; bands: 95% bootstrap CI" if banded else "")
    more = []
    if any(np.isfinite(s.split()[1]).any() for p in panels for s in p.series if s.kind != "run"):
        more.append("dotted: only some of the runs reach there")
    if smooth > 1:
        more.append(f"moving average over {smooth} points")
    return "\n".join([first, "; ".join(more)] if more else [first])


def _clock(v: float, _pos=None) -> str:
    if v >= 7200:
        return f"{v / 3600:.1f}h"
    if v >= 120:
        return f"{v / 60:.0f}m"
    return f"{v:.0f}s"
