"""What ``rlsight compare`` does, as a function: figure + summary table for runs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from rlsight.analysis.api import Comparison, collect
from rlsight.analysis.inputs import Warn
from rlsight.analysis.plot import plot_frame
from rlsight.analysis.summary import summary_table
from rlsight.runs.atomic import check_new_file

FIGURE_FORMATS = (".png", ".pdf", ".svg")


def compare(inputs: Iterable[str | Path], metric: str = "auto", x: str = "steps", smooth: int = 1,
            group_by: str | None = None, reference: list[str | Path] | None = None, stat: str = "auto",
            per_run: bool = False, show_runs: bool = False, clip_reference: bool = True,
            warn: Warn = lambda m: None) -> tuple[Figure, pd.DataFrame, Comparison]:
    """Load, group and plot runs; returns (figure, summary table, the loaded comparison)."""
    comp = collect(inputs, group_by, reference or None, warn)
    fig = plot_frame(comp.frame, metric, x=x, smooth=smooth, stat=stat, show_runs=show_runs,
                     clip_reference=clip_reference, warn=warn)
    return fig, summary_table(comp.frame, comp.runs, per_run=per_run), comp


def check_figure_path(out: str | Path, overwrite: bool = False) -> Path:
    """``out`` as a Path, checked: a figure suffix, an existing folder, and no existing
    file unless ``overwrite``."""
    return check_new_file(out, "--out", overwrite, tuple(FIGURE_FORMATS))
