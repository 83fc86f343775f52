"""Reading and writing run directories (format: docs/run-directory.md)."""

from rlsight.runs.load import build_model_for, load_policy
from rlsight.runs.rundir import FORMAT_VERSION, METRIC_COLUMNS, TIMING_COLUMNS, RunDir, is_run_dir

__all__ = ["build_model_for", "load_policy", "RunDir", "is_run_dir", "FORMAT_VERSION", "METRIC_COLUMNS", "TIMING_COLUMNS"]
