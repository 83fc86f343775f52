"""Compare runs: load many run directories into a tidy DataFrame, group seeds,
bootstrap intervals and IQM (Agarwal et al. 2021), summary tables and plots.

See docs/compare.md.

Public API for notebooks and the CLI: ``load_runs``, ``plot_runs``, ``collect`` (a
``Comparison``), ``compare`` (figure and table, as ``rlsight compare``),
``check_figure_path``, ``summary_table``, ``render_table``. For tools that present a
comparison in their own form (``rlsight.report``): ``check_metric``,
``check_x`` and ``label`` (metric names and their labels), ``build_panels``,
``present_metrics`` and ``Panel`` (curves with seed bands per group),
``generalisation_table``, ``generalisation_display``, ``render_generalisation`` and
``GENERALISATION_NOTE`` (train, held-out and shifted-setting returns from the stored
evaluations, with the gaps between them), ``differing_keys`` and ``format_value`` (the config keys that tell groups
apart), ``display_frame`` and ``number`` (table formatting), ``colors`` (one
colour per group), and ``Warn`` (the warning callback's type).
"""

from rlsight.analysis.api import Comparison, RlsightWarning, collect, load_runs, plot_runs
from rlsight.analysis.compare import FIGURE_FORMATS, check_figure_path, compare
from rlsight.analysis.curves import Panel, build_panels, present_metrics
from rlsight.analysis.generalisation import NOTE as GENERALISATION_NOTE
from rlsight.analysis.generalisation import (
    generalisation_display,
    generalisation_table,
    render_generalisation,
)
from rlsight.analysis.groups import differing_keys, format_value
from rlsight.analysis.inputs import Warn
from rlsight.analysis.metrics import check_metric, check_x, label
from rlsight.analysis.plot import colors
from rlsight.analysis.summary import summary_table
from rlsight.analysis.tables import display_frame, number
from rlsight.analysis.tables import render as render_table

__all__ = [
    "Comparison", "RlsightWarning", "collect", "compare", "check_figure_path", "FIGURE_FORMATS", "load_runs", "plot_runs", "summary_table", "render_table",
    "Panel", "build_panels", "present_metrics", "differing_keys", "format_value", "Warn",
    "check_metric", "check_x", "label", "colors", "display_frame", "number",
    "GENERALISATION_NOTE", "generalisation_display", "generalisation_table", "render_generalisation",
]
