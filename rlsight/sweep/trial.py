"""One trial, run by a worker (a local subprocess or a SLURM job).

The worker opens the study, trains (or resumes) one run per seed, reports the
intermediate metric so that the pruner can stop a weak trial, computes the
objective and tells the study. A crash is recorded as a failed trial with its
error; an interruption leaves the trial running so that the next
``rlsight sweep run`` continues its runs from their last checkpoints.
``python -m rlsight.sweep.worker SWEEP_DIR NUMBER`` runs one from a shell.
"""

from __future__ import annotations

import importlib
import math
import shutil
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlsight.sweep.spec import Objective, SweepError, SweepSpec
from rlsight.sweep.study import ERROR, RUN_DIRS, open_spec, open_study, storage_for, study_name

EXIT_INTERRUPTED = 130
# How long a trial waits for its run's lock: a requeued SLURM job can start while its
# earlier incarnation is still being killed (KillWait, 30 s by default).
RESUME_LOCK_WAIT_S = 120.0
# Set by the SLURM job's checkpoint hook (launchers.TrialJob) when the job is being
# pre-empted: any exception after that is the pre-emption's, not the trial's.
preempted = threading.Event()

OnUpdate = Callable[[dict], bool | None]


class TrialInterrupted(Exception):
    """Training stopped without finishing (Ctrl-C, pre-emption): not a failure."""


def train_run(cfg, run_dir: Path, on_update: OnUpdate) -> None:
    """The default ``train_fn``: train ``cfg`` in ``run_dir``, or continue the
    unfinished run already there from its newest checkpoint."""
    from rlsight.runs.rundir import RunDir, is_run_dir
    from rlsight.training import resume, train

    if is_run_dir(run_dir):
        if RunDir.open(run_dir).info().get("status") != "finished":
            resume(run_dir, progress=False, on_update=on_update, lock_wait_s=RESUME_LOCK_WAIT_S)
        return
    if run_dir.exists():  # killed while the folder was being created
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    train(cfg, run_dir, progress=False, on_update=on_update)


def load_train_fn(name: str) -> Callable[..., None]:
    """Import the training function ``module:attr``; SweepError when it cannot."""
    mod, _, attr = name.partition(":")
    try:
        return getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as e:
        raise SweepError(f"train_fn = {name!r}: cannot import it ({e})") from None


class Reporter:
    """The ``on_update`` callback: reports the metric to the trial, stops it when pruned."""

    def __init__(self, trial, metric: str, offset: int):
        self.trial, self.metric, self.offset = trial, metric, offset
        self.pruned = False

    def __call__(self, row: dict) -> bool:
        """Report the metric of an update row; True once the trial is pruned (stops training)."""
        v = row.get(self.metric)
        if v is None or isinstance(v, float) and math.isnan(v):
            return False
        self.trial.report(float(v), self.offset + int(row["step"]))
        if self.trial.should_prune():
            self.pruned = True
        return self.pruned


def objective_value(run_dir: Path, obj: Objective) -> float:
    """The mean of ``obj.metric`` over the last ``obj.last_fraction`` of training,
    or the mean return of a final evaluation."""
    from rlsight.runs import RunDir

    if obj.evaluate:
        from rlsight.evaluation import evaluate

        return float(evaluate(run_dir, split=obj.split, episodes=obj.episodes)["mean_return"])
    rows = RunDir.open(run_dir).metrics()
    if not rows:
        raise SweepError(f"{run_dir}: no metrics")
    cutoff = (1.0 - obj.last_fraction) * rows[-1]["step"]
    vals = [r[obj.metric] for r in rows if r["step"] >= cutoff and not math.isnan(r[obj.metric])]
    if not vals:
        raise SweepError(f"{run_dir}: no {obj.metric} values in the last {obj.last_fraction:.0%} of training "
                         f"(no episode finished?); train longer or raise objective.last_fraction")
    return sum(vals) / len(vals)


def _live_trial(spec: SweepSpec, sweep_dir: Path, number: int):
    import optuna

    study = open_study(spec, sweep_dir)
    storage = storage_for(spec, sweep_dir)
    trial_id = storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name(spec)), number)
    return study, optuna.trial.Trial(study, trial_id), lambda: storage.get_trial(trial_id)


def _train_seeds(spec: SweepSpec, sweep_dir: Path, trial, train_fn, threads: int | None) -> tuple[str, float | None]:
    from rlsight.runs import RunDir

    params: dict[str, Any] = trial.params
    run_dirs = [sweep_dir / p for p in trial.user_attrs[RUN_DIRS]]
    values = []
    for i, (seed, run_dir) in enumerate(zip(spec.seeds, run_dirs)):
        cfg = spec.trial_config(params, seed)
        if threads and cfg.train.torch_threads == 0:
            cfg.train.torch_threads = threads
        reporter = Reporter(trial, spec.pruner.metric, i * cfg.train.total_steps)
        print(f"trial {trial.number}: seed {seed} in {run_dir}", flush=True)
        train_fn(cfg, run_dir, reporter if spec.pruner.kind != "none" else (lambda row: None))
        status = RunDir.open(run_dir).info().get("status")
        if reporter.pruned:
            return "PRUNED", None
        if status != "finished":
            raise TrialInterrupted(f"{run_dir}: training stopped ({status})")
        values.append(objective_value(run_dir, spec.objective))
    return "COMPLETE", sum(values) / len(values)


def run_trial(sweep_dir: str | Path, number: int, threads: int | None = None) -> str:
    """Run trial ``number`` of the sweep in ``sweep_dir``; returns its final state,
    or ``"INTERRUPTED"`` (the trial stays running, to be resumed)."""
    from optuna.trial import TrialState

    sweep_dir = Path(sweep_dir)
    spec = open_spec(sweep_dir)
    study, trial, frozen = _live_trial(spec, sweep_dir, number)
    state = frozen().state
    if state != TrialState.RUNNING:
        print(f"trial {number} is {state.name}; nothing to do", flush=True)
        return state.name
    try:
        final, value = _train_seeds(spec, sweep_dir, trial, load_train_fn(spec.train_fn), threads)
    except (TrialInterrupted, KeyboardInterrupt) as e:
        print(f"trial {number} interrupted: {e}; `rlsight sweep run` again resumes it", file=sys.stderr, flush=True)
        return "INTERRUPTED"
    except Exception as e:  # noqa: BLE001 - any crash of a trial is recorded, the sweep goes on
        traceback.print_exc()
        if preempted.is_set():  # e.g. `scontrol requeue` failed inside submitit's handler
            print(f"trial {number} interrupted by pre-emption ({type(e).__name__}: {e}); `rlsight sweep run` "
                  f"resumes it", file=sys.stderr, flush=True)
            return "INTERRUPTED"
        trial.set_user_attr(ERROR, f"{type(e).__name__}: {e}")
        study.tell(number, state=TrialState.FAIL)
        print(f"trial {number} failed: {e}", file=sys.stderr, flush=True)
        return "FAIL"
    if final == "PRUNED":
        study.tell(number, state=TrialState.PRUNED)
        print(f"trial {number} pruned at step {frozen().last_step}", flush=True)
    else:
        study.tell(number, value)
        print(f"trial {number} complete: objective {value:.4g}", flush=True)
    return final
