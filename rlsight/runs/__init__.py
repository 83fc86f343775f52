"""Reading and writing run directories (format: docs/run-directory.md)."""

from typing import TYPE_CHECKING

from rlsight.runs.rundir import FORMAT_VERSION, METRIC_COLUMNS, TIMING_COLUMNS, RunDir, is_run_dir

if TYPE_CHECKING:
    from rlsight.runs.load import build_model_for, load_policy

__all__ = ["build_model_for", "load_policy", "RunDir", "is_run_dir", "FORMAT_VERSION", "METRIC_COLUMNS", "TIMING_COLUMNS"]


def __getattr__(name: str):
    """``load_policy`` and ``build_model_for`` on first use: they import torch, which a sweep
    driver, its workers and the run-directory readers do not need."""
    if name in ("build_model_for", "load_policy"):
        from rlsight.runs import load

        return getattr(load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
