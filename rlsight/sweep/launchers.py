"""Where trials run: ``local`` (worker processes on this machine) or ``slurm``
(one job per trial, submitted as a job array through submitit). Neither
schedules anything itself: the local launcher keeps at most ``workers``
processes busy, SLURM does the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from queue import Queue

from rlsight.sweep.spec import SweepError, SweepSpec
from rlsight.sweep.study import ERROR, LOG, SLURM_JOB, TrialRecord
from rlsight.sweep.trial import EXIT_INTERRUPTED

Say = Callable[[str], None]


def trial_dir(sweep_dir: Path, number: int) -> Path:
    """The folder of trial ``number``'s runs."""
    return sweep_dir / "trials" / f"{number:04d}"


def _worker_preexec() -> None:
    """Runs in the worker before exec. SIGINT back to its default: the sweep stops a worker with
    SIGINT, and a sweep started in the background by a script ignores SIGINT, which its workers
    would inherit. And SIGKILL when the sweep process dies, so that a killed sweep leaves no
    orphan training behind (Linux only)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Within: SIGTERM raises KeyboardInterrupt here as Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _visible_gpus(spec: SweepSpec) -> list[str]:
    if spec.local.gpus is not None:
        return [str(g) for g in spec.local.gpus]
    if spec.base.train.device == "cpu":
        return []
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g for g in env.split(",") if g.strip()]
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout
        return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    return []


class LocalLauncher:
    """Runs each trial in its own Python process, ``workers`` at a time. The CPU
    cores are split between workers (``train.torch_threads``, when the config
    leaves it at 0) and each worker sees one GPU, round-robin."""

    name = "local"

    def __init__(self, spec: SweepSpec, sweep_dir: Path, workers: int | None = None, say: Say = print):
        self.spec, self.sweep_dir, self.say = spec, sweep_dir, say
        self.workers = workers or spec.local.workers
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        gpus = _visible_gpus(spec)
        self.slots: Queue = Queue()
        for i in range(self.workers):
            self.slots.put(gpus[i % len(gpus)] if gpus else None)
        self.parallel = self.workers
        self._procs: set[subprocess.Popen] = set()  # the workers running now
        self._procs_lock = threading.Lock()

    def alive(self, rec: TrialRecord) -> bool:
        """Always False: trials of an earlier local run died with that process."""
        return False  # we hold the sweep's lock and our workers die with us

    def wait_for(self, recs: list[TrialRecord]) -> None:
        """Nothing to wait for (see ``alive``)."""
        pass

    def run(self, numbers: list[int], handle, report: Callable[[int], None]) -> None:
        """Run the trials ``workers`` at a time, calling ``report`` as each one ends.

        The workers run in their own process group, so signals reach them through
        this process alone: Ctrl-C or SIGTERM here sends each worker one SIGINT (it
        finishes its update, writes a checkpoint and exits), waits for them, and
        raises KeyboardInterrupt; a second Ctrl-C or SIGTERM while waiting sends a
        second SIGINT, which makes the workers stop at once."""
        stop = threading.Event()

        def one(number: int) -> None:
            if stop.is_set():
                return
            gpu = self.slots.get()
            try:
                self._run_one(number, gpu, handle, stop)
            finally:
                self.slots.put(gpu)
            if not stop.is_set():
                report(number)

        with _sigterm_interrupts(), ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(one, n) for n in numbers]
            try:
                for f in futures:
                    f.result()
            except BaseException:
                stop.set()  # no trial starts from now on
                while True:
                    try:  # the first time each worker finishes its update and checkpoints; again: stops at once
                        self._signal_workers(stop)
                        wait(futures)
                        break
                    except KeyboardInterrupt:
                        continue
                raise

    def _signal_workers(self, stop: threading.Event) -> None:
        """Start no more trials, and send each running worker SIGINT."""
        stop.set()
        with self._procs_lock:  # a worker is started under this lock only while ``stop`` is clear
            for proc in self._procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)

    def _run_one(self, number: int, gpu: str | None, handle, stop: threading.Event) -> None:
        log = trial_dir(self.sweep_dir, number) / "trial.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        trial = handle(number)
        trial.set_user_attr(LOG, str(log))
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        pkg_root = str(Path(__file__).resolve().parents[2])  # the same rlsight as this process
        env["PYTHONPATH"] = os.pathsep.join([pkg_root, *filter(None, [os.environ.get("PYTHONPATH")])])
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        cmd = [sys.executable, "-m", "rlsight.sweep.worker", str(self.sweep_dir), str(number), "--threads", str(self.threads)]
        with open(log, "a") as out:
            with self._procs_lock:
                if stop.is_set():
                    return  # the sweep was stopped while this trial waited for a slot: continued next time
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                        preexec_fn=_worker_preexec, process_group=0)
                self._procs.add(proc)
            try:
                rc = proc.wait()
            finally:
                with self._procs_lock:
                    self._procs.discard(proc)
        if rc in (0, EXIT_INTERRUPTED) or stop.is_set():
            return  # the worker told the study (or was interrupted: resumed next time)
        from optuna.trial import TrialState

        if handle(number, frozen=True).state == TrialState.RUNNING:
            why = f"signal {-rc}" if rc < 0 else f"exit code {rc}"
            trial.set_user_attr(ERROR, f"worker process died ({why}); see {log}")
            trial.study.tell(number, state=TrialState.FAIL)


class TrialJob:
    """What a SLURM job runs. submitit calls ``checkpoint`` when the job is
    pre-empted or reaches its time limit: the job is requeued with the same
    arguments and the trial's runs resume from their last checkpoints."""

    def __call__(self, sweep_dir: str, number: int, threads: int) -> str:
        """Run the trial (the job's entry point)."""
        from rlsight.sweep.trial import run_trial

        return run_trial(sweep_dir, number, threads)

    def checkpoint(self, *args, **kwargs):
        """Called by submitit's signal handler (USR2: pre-emption or time limit), which
        then requeues the job and exits by raising ``SystemExit`` wherever training is.
        Whatever that handler raises from here on is an interruption, not a failure of
        the trial (``run_trial`` checks ``preempted``)."""
        import submitit

        from rlsight.sweep import trial

        trial.preempted.set()
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def _squeue_ids() -> set[str] | None:
    """Job ids SLURM still knows as pending or running (array tasks as ``ID_i``); None if squeue fails."""
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(out.stdout.split()) if out.returncode == 0 else None


# States after which SLURM runs a job no more (a job being requeued passes through
# COMPLETING/REQUEUED/PENDING instead, and stays in squeue).
FINAL_STATES = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"}


def _slurm_state(job_id: str) -> str | None:
    """The job's state as ``scontrol`` tells it; None when slurmctld no longer knows the job."""
    try:
        out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "UNKNOWN"
    if out.returncode != 0:
        return None if "Invalid job id" in out.stderr else "UNKNOWN"
    for field in out.stdout.split():
        if field.startswith("JobState="):
            return field.split("=", 1)[1]
    return "UNKNOWN"


def _job_ended(job_id: str) -> bool:
    """squeue stopped listing the job: true only when scontrol confirms it ended for good
    (or forgot it). One squeue answer alone is not trusted while a job is requeued."""
    state = _slurm_state(job_id)
    return state is None or state in FINAL_STATES


def _squeue_ids_or_fail() -> set[str]:
    ids = _squeue_ids()
    if ids is None:
        raise SweepError("squeue failed: cannot tell which trials SLURM still runs; check the cluster and run again")
    return ids


class SlurmLauncher:
    """Submits each batch of trials as a SLURM job array through submitit, then
    waits until the jobs leave the queue (requeued jobs stay in it)."""

    name = "slurm"
    poll_s = 3.0

    def __init__(self, spec: SweepSpec, sweep_dir: Path, say: Say = print):
        if not shutil.which("sbatch"):
            raise SweepError("--launcher slurm: sbatch is not on PATH (no SLURM here; scripts/slurm-up.sh starts a "
                             "single-node one, or use --launcher local)")
        import submitit  # noqa: F401  (fail early if missing)

        self.spec, self.sweep_dir, self.say = spec, sweep_dir, say
        self.parallel = spec.slurm.array_parallelism

    def alive(self, rec: TrialRecord) -> bool:
        """Whether the trial's SLURM job is still queued or running."""
        return bool(rec.slurm_job) and rec.slurm_job in _squeue_ids_or_fail()
        if not rec.slurm_job:
            return False
        return rec.slurm_job in _squeue_ids_or_fail() or not _job_ended(rec.slurm_job)

    def executor(self):
        """A submitit SLURM executor with the sweep's SLURM settings."""
        import submitit

        s = self.spec.slurm
        ex = submitit.SlurmExecutor(folder=str(self.sweep_dir / "slurm" / "%j"), max_num_timeout=s.max_requeues,
                                    python=sys.executable)
        kw = dict(job_name=f"rlsight-{self.spec.name}", time=s.time_min, cpus_per_task=s.cpus_per_task,
                  mem=f"{int(s.mem_gb * 1024)}M", array_parallelism=s.array_parallelism, setup=list(s.setup),
                  additional_parameters=dict(s.extra))
        for k in ("partition", "account", "qos"):
            if getattr(s, k):
                kw[k] = getattr(s, k)
        if s.gpus_per_task:
            kw["gpus_per_node"] = s.gpus_per_task
        ex.update_parameters(**kw)
        return ex

    def run(self, numbers: list[int], handle, report: Callable[[int], None]) -> None:
        """Submit the trials as one job array; call ``report`` as each job leaves the queue."""
        n = len(numbers)
        jobs = self.executor().map_array(TrialJob(), [str(self.sweep_dir.resolve())] * n, numbers,
                                         [self.spec.slurm.cpus_per_task] * n)
        for number, job in zip(numbers, jobs):
            t = handle(number)
            t.set_user_attr(SLURM_JOB, job.job_id)
            t.set_user_attr(LOG, str(job.paths.stdout))
        self.say(f"submitted {n} trial(s) as SLURM job array {jobs[0].job_id.split('_')[0]}")
        self.wait_jobs(dict(zip(numbers, (j.job_id for j in jobs))), report)

    def wait_jobs(self, pending: dict[int, str], report: Callable[[int], None]) -> None:
        """Poll until every job {trial number: job id} has ended for good, reporting each trial
        as its job ends. A job that squeue stops listing counts as ended only after two polls
        and once scontrol confirms it (a requeued job must not end its trial)."""
        pending = dict(pending)
        missing: dict[int, int] = {}  # polls in a row in which squeue did not list the job
        while pending:
            time.sleep(self.poll_s)
            ids = _squeue_ids()
            if ids is None:
                continue
            for number, job_id in list(pending.items()):
                if job_id in ids:
                    missing.pop(number, None)
                    continue
                missing[number] = missing.get(number, 0) + 1
                if missing[number] >= 2 and _job_ended(job_id):
                    del pending[number]
                    report(number)

    def wait_for(self, recs: list[TrialRecord]) -> None:
        """Wait for trials that a previous ``sweep run`` submitted and SLURM still runs."""
        jobs = {r.slurm_job for r in recs}
        while jobs & _squeue_ids_or_fail() or not all(_job_ended(j) for j in jobs):
            time.sleep(self.poll_s)


def make_launcher(name: str, spec: SweepSpec, sweep_dir: Path, workers: int | None = None, say: Say = print):
    """The launcher named ``name`` (local or slurm)."""
    if name == "local":
        return LocalLauncher(spec, sweep_dir, workers, say)
    if name == "slurm":
        return SlurmLauncher(spec, sweep_dir, say)
    raise SweepError(f"--launcher {name!r}: valid: local, slurm")
