"""The notebook API: ``load_runs`` (a tidy DataFrame) and ``plot_runs`` (a matplotlib Figure)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rlsight.analysis.groups import assign_groups
from rlsight.analysis.inputs import RunInfo, Warn, expand, open_runs
from rlsight.analysis.metrics import LABEL_COLUMNS, METRICS, check_metric, empty, tidy_runs
from rlsight.analysis.reference import load_references
from rlsight.errors import RlsightError


class RlsightWarning(UserWarning):
    """A run or metric left out of a comparison, or a caveat about it."""


def _pywarn(msg: str) -> None:
    warnings.warn(msg, RlsightWarning, stacklevel=4)


@dataclass
class Comparison:
    """Runs to compare, their tidy metrics (reference curves appended), and what went wrong."""

    runs: list[RunInfo]
    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def metric_names(self) -> list[str]:
        """The known metrics present in ``frame``, in the canonical order."""
        have = set(self.frame["metric"].unique())
        return [m for m in METRICS if m in have]


def collect(inputs: Iterable[Any], group_by: str | list[str] | None = None,
            reference: str | Path | Iterable[str | Path] | None = None, warn: Warn | None = None) -> Comparison:
    """Open the runs named by paths or globs, group them, and load their metrics."""
    seen: list[str] = []

    def note(msg: str) -> None:
        seen.append(msg)
        (warn or _pywarn)(msg)

    runs = open_runs(expand(inputs, note), note)
    assign_groups(runs, group_by)
    frame = tidy_runs(runs)
    if reference is not None:
        refs = [reference] if isinstance(reference, (str, Path)) else list(reference)
        if refs:
            frame = pd.concat([frame, load_references(refs, note)], ignore_index=True)
    return Comparison(runs, categorical(frame), seen)


def categorical(frame: pd.DataFrame) -> pd.DataFrame:
    """Label columns as categories: much faster to filter and group than strings."""
    return frame.astype({c: "category" for c in LABEL_COLUMNS})


def load_runs(*runs: str | Path | Iterable[str | Path], group_by: str | list[str] | None = None,
              reference: str | Path | Iterable[str | Path] | None = None,
              metrics: str | Iterable[str] | None = None) -> pd.DataFrame:
    """Metrics of many runs as one tidy DataFrame.

    ``runs`` are run directories, folders of run directories, or globs such as
    ``"runs/*"``. Columns: run, group, game, source ("run" or "reference"), step,
    wall_time, metric, value; one row per logged value (NaN rows dropped).
    Runs whose configs differ only in ``train.seed`` share a group, unless
    ``group_by`` names config keys (``"model.encoder"``) or is ``"none"``.
    """
    df = collect(runs, group_by, reference).frame
    if metrics is not None:
        wanted = [check_metric(m) for m in ([metrics] if isinstance(metrics, str) else metrics)]
        df = df[df["metric"].isin(wanted)].reset_index(drop=True)
    return df if len(df) else empty()


def plot_runs(runs: pd.DataFrame | str | Path | Iterable[str | Path], metric: str | list[str] = "auto",
              x: str = "steps", smooth: int = 1, group_by: str | list[str] | None = None,
              reference: str | Path | Iterable[str | Path] | None = None, stat: str = "auto",
              show_runs: bool = False, clip_reference: bool = True, title: str | None = None):
    """Curves per group: the mean (IQM for groups spanning games) with a 95%
    bootstrap band over runs, one panel per metric and game; returns a matplotlib Figure.

    ``runs`` is a DataFrame from :func:`load_runs` or what ``load_runs`` accepts.
    """
    from rlsight.analysis.plot import plot_frame

    if isinstance(runs, pd.DataFrame):
        if group_by is not None or reference is not None:
            raise RlsightError("group_by and reference apply when plot_runs is given paths; pass them to load_runs")
        frame = runs
    else:
        frame = collect([runs], group_by, reference).frame
    return plot_frame(frame, metric, x=x, smooth=smooth, stat=stat, show_runs=show_runs,
                      clip_reference=clip_reference, title=title, warn=_pywarn)
