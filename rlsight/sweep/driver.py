"""``run_sweep``: validate, prepare the sweep directory, then ask the strategy
for batches of trials and hand them to the launcher until it has nothing left.

Running the same command again continues: finished trials are kept, trials
that were running when the sweep stopped are continued (same run directories,
resumed from their last checkpoints).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rlsight.sweep.launchers import make_launcher
from rlsight.sweep.spec import SweepError, SweepSpec, load_sweep
from rlsight.sweep.strategies import distributions, next_batch
from rlsight.sweep.study import (
    DISCARDED,
    ERROR,
    INTERRUPTED,
    RETRY_OF,
    RUN_DIRS,
    TrialRecord,
    open_study,
    prepare_dir,
    records,
    storage_for,
    study_name,
    to_resume,
)


def default_dir(sweep_file: str | Path) -> Path:
    """The default sweep directory: sweeps/<sweep file name without suffix>."""
    return Path("sweeps") / Path(sweep_file).stem


@contextmanager
def _lock(sweep_dir: Path) -> Iterator[None]:
    """One ``sweep run`` per directory at a time (the lock dies with its process)."""
    f = open(sweep_dir / "lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        raise SweepError(f"{sweep_dir} is in use by another `rlsight sweep run` (pid {f.read().strip() or '?'})") from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    try:
        yield
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


class _Trials:
    """Creates trials and gives access to live ones by number."""

    def __init__(self, spec: SweepSpec, sweep_dir: Path):
        self.spec, self.sweep_dir = spec, sweep_dir
        self.study = open_study(spec, sweep_dir, create=True)
        self.storage = storage_for(spec, sweep_dir)
        self.study_id = self.storage.get_study_id_from_name(study_name(spec))
        self.dists = distributions(spec)

    def handle(self, number: int, frozen: bool = False):
        import optuna

        tid = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)
        return self.storage.get_trial(tid) if frozen else optuna.trial.Trial(self.study, tid)

    def create(self, params: dict[str, Any] | None, resume: TrialRecord | None = None) -> int:
        if resume is not None:
            params = resume.params
        if params is not None:
            self.study.enqueue_trial(params)
        t = self.study.ask(self.dists)
        if resume is not None:
            run_dirs = resume.run_dirs
            t.set_user_attr(RETRY_OF, resume.number)
        else:
            run_dirs = [str(Path("trials") / f"{t.number:04d}" / f"seed{s}") for s in self.spec.seeds]
        t.set_user_attr(RUN_DIRS, run_dirs)  # a trial without them was never launched: see _recover
        return t.number

    def discard_queued(self) -> int:
        """Retire trials left queued (WAITING) by a driver killed between ``enqueue_trial`` and
        ``ask``: the next ``ask`` would hand one out in place of the trial asked for, with
        another assignment's parameters. Returns how many there were."""
        from optuna.trial import TrialState

        stale = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        for t in stale:
            self.discard(t.number)
        return len(stale)

    def discard(self, number: int) -> None:
        """Retire a trial that never ran: failed, and left out of every record."""
        from optuna.trial import TrialState

        tid = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)
        self.storage.set_trial_user_attr(tid, DISCARDED, True)
        self.storage.set_trial_state_values(tid, state=TrialState.FAIL)

    def mark_interrupted(self, rec: TrialRecord) -> None:
        from optuna.trial import TrialState

        t = self.handle(rec.number)
        t.set_user_attr(INTERRUPTED, True)
        t.set_user_attr(ERROR, f"interrupted before it finished; continued on the next `sweep run` (log: {rec.log})")
        self.study.tell(rec.number, state=TrialState.FAIL)


def _describe(rec: TrialRecord) -> str:
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.params.items())
    if rec.state == "COMPLETE":
        what = f"objective {rec.value:.4g}"
    elif rec.state == "PRUNED":
        what = f"pruned at step {rec.last_step}"
    elif rec.state == "FAIL":
        what = f"failed: {rec.error}" + (f" (log: {rec.log})" if rec.log and rec.log not in rec.error else "")
    else:
        what = rec.state.lower()
    return f"trial {rec.number} [{params}]: {what}"


def run_sweep(sweep_file: str | Path, sweep_dir: str | Path | None = None, launcher: str = "local",
              workers: int | None = None, say: Callable[[str], None] = print) -> list[TrialRecord]:
    """Run (or continue) the sweep described by ``sweep_file`` in ``sweep_dir``;
    returns the records of every trial."""
    sweep_file = Path(sweep_file)
    spec = load_sweep(sweep_file)  # every check happens before anything is created
    if workers is not None and workers < 1:
        raise SweepError(f"--workers {workers}: must be >= 1")
    sweep_dir = Path(sweep_dir) if sweep_dir else default_dir(sweep_file)
    launch = make_launcher(launcher, spec, sweep_dir, workers, say)
    prepare_dir(spec, sweep_file, sweep_dir)
    with _lock(sweep_dir):
        trials = _Trials(spec, sweep_dir)
        say(f"sweep {spec.name}: {spec.strategy} over {', '.join(spec.params)} in {sweep_dir} ({launch.name} launcher)")

        def report(number: int) -> None:
            rec = TrialRecord.of(trials.handle(number, frozen=True))
            if rec.state != "RUNNING":
                say(_describe(rec))

        while True:
            _recover(trials, launch, say)
            recs = records(trials.study)
            resumes = to_resume(recs)
            if resumes:
                say(f"continuing {len(resumes)} interrupted trial(s): {', '.join(str(r.number) for r in resumes)}")
                numbers = [trials.create(None, r) for r in resumes]
            else:
                batch = next_batch(spec, recs, launch.parallel)
                if not batch:
                    break
                numbers = [trials.create(p) for p in batch]
            launch.run(numbers, trials.handle, report)
        recs = records(trials.study)
    _summary(spec, recs, say)
    return recs


def _recover(trials: _Trials, launch, say: Callable[[str], None]) -> None:
    """Trials still marked running: wait for those the cluster still runs; the
    others were interrupted (sweep killed, node lost) and are continued."""
    trials.discard_queued()  # under the sweep's lock: no other driver is queueing now
    running = [r for r in records(trials.study) if r.state == "RUNNING"]
    alive = [r for r in running if launch.alive(r)]
    if alive:
        say(f"waiting for {len(alive)} trial(s) still running from an earlier `sweep run`")
        launch.wait_for(alive)
    for r in records(trials.study):
        if r.state == "RUNNING" and not r.run_dirs:
            # asked for by a driver killed inside ``create``, before it named the run folders (and so
            # before any launch; its retry_of may be set): never ran. Continuing it would train nothing
            # (or its assignment twice); discarded, the assignment is asked for again.
            trials.discard(r.number)
        elif r.state == "RUNNING":
            trials.mark_interrupted(r)


def _summary(spec: SweepSpec, recs: list[TrialRecord], say: Callable[[str], None]) -> None:
    counts: dict[str, int] = {}
    for r in recs:
        if not r.interrupted:
            counts[r.state] = counts.get(r.state, 0) + 1
    say("done: " + ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())))
    if any(r.state == "COMPLETE" for r in recs):
        from rlsight.sweep.results import best_trial

        say("best: " + _describe(best_trial(spec, recs)))
