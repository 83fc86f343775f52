"""Compare runs: load many run directories into a tidy DataFrame, group seeds,
bootstrap intervals and IQM (Agarwal et al. 2021), summary tables and plots.

See docs/compare.md.
"""

from rlsight.analysis.api import Comparison, RlsightWarning, collect, load_runs, plot_runs
from rlsight.analysis.summary import summary_table
from rlsight.analysis.tables import render as render_table

__all__ = ["Comparison", "RlsightWarning", "collect", "load_runs", "plot_runs", "summary_table", "render_table"]
