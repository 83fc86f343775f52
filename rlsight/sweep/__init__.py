"""Hyperparameter sweeps: one-at-a-time, grid, random and TPE searches over
config keys, on this machine or a SLURM cluster, resumable, with pruning.

Optuna holds the study (trials, parameters, values) and does the sampling and
pruning; SLURM (through submitit) does the scheduling on a cluster. See
docs/sweeps.md.
"""

from rlsight.sweep.driver import default_dir, run_sweep
from rlsight.sweep.results import best_config, format_status, load, plot, status_rows
from rlsight.sweep.spec import SweepError, SweepSpec, load_sweep

__all__ = [
    "SweepError", "SweepSpec", "best_config", "default_dir", "format_status", "load", "load_sweep", "plot",
    "run_sweep", "status_rows",
]
