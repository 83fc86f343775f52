"""The sweep directory and its Optuna study: storage, pruner, sampler, trial records.

::

    SWEEP_DIR/
      sweep.toml   the sweep file as given (re-read by workers)
      base.toml    the resolved base config (every key), so that a later edit
                   of the base file cannot change a sweep under way
      study.db     the Optuna study (SQLite; or study.journal with storage = "journal")
      trials/0003/seed0/   one run directory per trial and seed
      trials/0003/trial.log  the local worker's output (SLURM: slurm/<job>_log.out)
      slurm/       submitit's job files and logs
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rlsight import config as C
from rlsight.runs.atomic import atomic_write_text
from rlsight.sweep.spec import SweepError, SweepSpec, parse, read_toml

STUDY_NAME = "rlsight-sweep"
SWEEP_FILE = "sweep.toml"
BASE_FILE = "base.toml"

# user attributes on Optuna trials
RUN_DIRS = "run_dirs"  # one run directory per seed
LOG = "log"  # where the trial's output went
ERROR = "error"  # why it failed
INTERRUPTED = "interrupted"  # failed because the sweep or its node stopped; re-run on the next `sweep run`
RETRY_OF = "retry_of"  # number of the interrupted trial this one continues
SLURM_JOB = "slurm_job"
# a queued trial that a killed driver left behind (enqueued, never asked for): never run, not shown
DISCARDED = "discarded"


def quiet_optuna() -> None:
    """Silence Optuna's and alembic's info logging."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def storage_for(spec: SweepSpec, sweep_dir: Path):
    """The Optuna storage: SQLite in the sweep directory, a journal file, or a URL."""
    import optuna

    if spec.storage == "sqlite":
        return optuna.storages.RDBStorage(
            f"sqlite:///{(sweep_dir / 'study.db').resolve()}",
            engine_kwargs={"connect_args": {"timeout": 60}},
        )
    if spec.storage == "journal":
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = str((sweep_dir / "study.journal").resolve())
        return optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    return optuna.storages.RDBStorage(spec.storage)


def pruner_for(spec: SweepSpec):
    """The Optuna pruner the spec asks for (none: NopPruner)."""
    import optuna

    p = spec.pruner
    if p.kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_steps)
    if p.kind == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=p.min_steps, reduction_factor=p.reduction_factor)
    return optuna.pruners.NopPruner()


def sampler_for(spec: SweepSpec):
    """TPE or random sampler, seeded with the spec's sampler seed."""
    import optuna

    if spec.strategy == "tpe":
        return optuna.samplers.TPESampler(seed=spec.sampler_seed, n_startup_trials=min(10, max(2, spec.trials // 4)))
    return optuna.samplers.RandomSampler(seed=spec.sampler_seed)


def study_name(spec: SweepSpec) -> str:
    """The study's name inside its storage (per sweep name in a shared database)."""
    return STUDY_NAME if spec.storage in ("sqlite", "journal") else f"{STUDY_NAME}-{spec.name}"


def open_study(spec: SweepSpec, sweep_dir: Path, create: bool = False):
    """The sweep's Optuna study; made if missing when ``create``, else SweepError if missing."""
    import optuna

    quiet_optuna()
    storage = storage_for(spec, sweep_dir)
    # the spec allows only these two
    direction: Literal["maximize", "minimize"] = "maximize" if spec.direction == "maximize" else "minimize"
    kw = {"study_name": study_name(spec), "storage": storage, "pruner": pruner_for(spec), "sampler": sampler_for(spec)}
    if create:
        return optuna.create_study(direction=direction, load_if_exists=True, **kw)
    try:
        return optuna.load_study(**kw)
    except KeyError:
        raise SweepError(f"{sweep_dir}: no sweep study found in its storage ({spec.storage})") from None


# -- the sweep directory ---------------------------------------------------------------


def prepare_dir(spec: SweepSpec, sweep_file: Path, sweep_dir: Path) -> None:
    """Create the sweep directory, or check that it holds this same sweep."""
    if (sweep_dir / SWEEP_FILE).is_file():
        old = open_spec(sweep_dir)
        if old.identity() != spec.identity() or old.base.to_toml() != spec.base.to_toml():
            raise SweepError(f"{sweep_dir} holds a different sweep (its {SWEEP_FILE} or base config differ from "
                             f"{sweep_file}); give another --dir, or delete {sweep_dir} to start over")
        if sweep_file.resolve() != (sweep_dir / SWEEP_FILE).resolve():
            atomic_write_text(sweep_dir / SWEEP_FILE, _named(spec, sweep_file))  # trials, launchers may change
        return
    if sweep_dir.exists() and any(sweep_dir.iterdir()):
        raise SweepError(f"{sweep_dir} exists and is not a sweep directory; give another --dir")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(sweep_dir / BASE_FILE, spec.base.to_toml())
    atomic_write_text(sweep_dir / SWEEP_FILE, _named(spec, sweep_file))


def _named(spec: SweepSpec, sweep_file: Path) -> str:
    """The sweep file's text, with its name written in when the file leaves it to the file name."""
    text = sweep_file.read_text()
    return text if "name" in spec.raw else f"name = {json.dumps(spec.name)}  # added by rlsight: the file's name\n{text}"


def open_spec(sweep_dir: str | Path) -> SweepSpec:
    """The spec of an existing sweep directory (base config from its base.toml)."""
    d = Path(sweep_dir)
    if not (d / SWEEP_FILE).is_file() or not (d / BASE_FILE).is_file():
        raise SweepError(f"{d}: not a sweep directory (no {SWEEP_FILE}); run `rlsight sweep run FILE --dir {d}` first")
    base = C.loads((d / BASE_FILE).read_text())
    return parse(read_toml(d / SWEEP_FILE), base, str(d / BASE_FILE), d.name)


# -- trial records ---------------------------------------------------------------------


@dataclass
class TrialRecord:
    """One trial as read back from the study."""

    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    value: float | None
    params: dict[str, Any]
    run_dirs: list[str]
    log: str
    error: str
    interrupted: bool
    retry_of: int | None
    last_step: int | None
    slurm_job: str = ""

    @classmethod
    def of(cls, t) -> TrialRecord:
        """The record of an Optuna trial (a pruned trial's value is its last reported one)."""
        u = t.user_attrs
        value = t.value if t.value is not None and not math.isnan(t.value) else None
        if value is None and t.intermediate_values and t.state.name == "PRUNED":
            value = t.intermediate_values[max(t.intermediate_values)]
        return cls(t.number, t.state.name, value, dict(t.params), list(u.get(RUN_DIRS, [])), u.get(LOG, ""),
                   u.get(ERROR, ""), bool(u.get(INTERRUPTED)), u.get(RETRY_OF), t.last_step, u.get(SLURM_JOB, ""))

    def to_json(self) -> dict:
        """The record as a JSON-able dict."""
        return self.__dict__.copy()


def records(study) -> list[TrialRecord]:
    """The records of every trial in the study."""
    return [TrialRecord.of(t) for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(DISCARDED)]


def key(params: dict[str, Any]) -> str:
    """A parameter assignment as a comparable string."""
    return json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True)


MAX_RESUMES = 3  # an assignment interrupted more often than this counts as failed


def settled(rec: TrialRecord) -> bool:
    """Finished for good: complete, pruned, or failed by its own error (not interrupted)."""
    return rec.state in ("COMPLETE", "PRUNED") or (rec.state == "FAIL" and not rec.interrupted)


def settled_records(records: list[TrialRecord]) -> list[TrialRecord]:
    """Settled trials, plus interrupted ones whose assignment has run out of resumes."""
    out = [r for r in records if settled(r)]
    interrupted: dict[str, list[TrialRecord]] = {}
    for r in records:
        if r.state == "FAIL" and r.interrupted:
            interrupted.setdefault(key(r.params), []).append(r)
    done = {key(r.params) for r in out}
    out += [rs[-1] for k, rs in interrupted.items() if len(rs) > MAX_RESUMES and k not in done]
    return out


def to_resume(records: list[TrialRecord]) -> list[TrialRecord]:
    """Interrupted trials to continue: not yet continued, and not out of resumes."""
    continued = {r.retry_of for r in records if r.retry_of is not None}
    given_up = {r.number for r in settled_records(records) if r.interrupted}
    return [r for r in records if r.state == "FAIL" and r.interrupted and r.number not in continued
            and r.number not in given_up]
