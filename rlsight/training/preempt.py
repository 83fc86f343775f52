"""Pre-emption of plain job scripts (``rlsight jobscript``): which signals stop
``rlsight train`` with a checkpoint, and the job requeueing itself afterwards.

SLURM does not requeue a batch job because of its exit status, so a job that
stopped on SIGTERM (pre-emption, ``scancel``, the time limit) or on the warning
signal it asked for (``#SBATCH --signal=B:USR1@120``) runs ``scontrol requeue
$SLURM_JOB_ID`` itself once its checkpoint is written; the requeued job runs
the same script, which resumes the run. Sweeps on SLURM do not come here: there
submitit's own handler takes USR2 and ignores SIGTERM (docs/run-directory.md).
"""

from __future__ import annotations

import os
import signal
import subprocess

from rlsight.errors import RlsightError

# signals a user may name with --signal (the ones SLURM and LSF send before a kill)
SIGNAL_NAMES = ("TERM", "INT", "USR1", "USR2", "HUP", "XCPU", "URG")
REQUEUE_TIMEOUT_S = 60


def parse_signal(text: str) -> signal.Signals:
    """``USR1``, ``SIGUSR1`` or ``10`` as a signal; RlsightError for others."""
    name = text.strip().upper().removeprefix("SIG")
    if name.isdigit():
        try:
            name = signal.Signals(int(name)).name.removeprefix("SIG")
        except ValueError:
            name = text
    if name not in SIGNAL_NAMES:
        raise RlsightError(f"--signal {text!r}: valid: {', '.join(SIGNAL_NAMES)}")
    return signal.Signals[f"SIG{name}"]


def stop_signals(extra: list[str]) -> tuple[int, ...]:
    """The signals that stop ``rlsight train`` with a checkpoint: SIGINT, SIGTERM and ``extra``."""
    sigs = [signal.SIGINT, signal.SIGTERM, *(parse_signal(s) for s in extra)]
    return tuple(dict.fromkeys(sigs))


def requeue(max_requeues: int) -> str:
    """Requeue this SLURM job (``scontrol requeue $SLURM_JOB_ID``) unless it has been requeued
    ``max_requeues`` times already (``SLURM_RESTART_COUNT``); returns a line saying what happened.
    Outside a SLURM job (a job script run by hand) it does nothing and says so."""
    job_id = os.environ.get("SLURM_JOB_ID", "")
    if not job_id.isdigit():
        return "not requeued: not in a SLURM job (SLURM_JOB_ID is not set); run the same command again to resume"
    restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
    if restarts >= max_requeues:
        return (f"job {job_id} not requeued: it has been requeued {restarts} times (--max-requeues {max_requeues}); "
                "submit the script again to resume the run")
    try:
        r = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True, timeout=REQUEUE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"job {job_id} not requeued (scontrol: {e}); submit the script again to resume the run"
    if r.returncode != 0:
        why = (r.stderr or r.stdout).strip().splitlines()
        return (f"job {job_id} not requeued (scontrol: {why[-1] if why else f'exit {r.returncode}'}); "
                "submit the script again to resume the run")
    return f"job {job_id} requeued (restart {restarts + 1} of at most {max_requeues}): it resumes the run when it starts again"
