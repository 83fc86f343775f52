"""A plain ``sbatch`` (SLURM) or ``bsub`` (LSF) script for one training run,
for people who submit by hand. Submitting the same script again resumes the
run from its last checkpoint."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from rlsight.errors import RlsightError

SCHEDULERS = ("slurm", "lsf")
MAIL_EVENTS = ("begin", "end", "fail")


@dataclass
class JobSpec:
    """The settings of one hand-submitted job script."""

    config: str
    run_dir: str
    overrides: list[str] = field(default_factory=list)
    scheduler: str = "slurm"
    job_name: str = "rlsight"
    queue: str | None = None
    time: str = "04:00:00"
    cpus: int = 1
    gpus: int = 0
    mem: str = "8G"
    mail: str | None = None
    mail_on: list[str] = field(default_factory=lambda: ["end", "fail"])
    setup: list[str] = field(default_factory=list)
    log_dir: str | None = None
    command: str = "rlsight"
    signal: str | None = "B:USR1@120"  # SLURM's warning before the time limit; None: SIGTERM only
    max_requeues: int = 20


def minutes(text: str) -> int:
    """``90`` (minutes), ``01:30:00`` or ``2-00:00:00`` as whole minutes (seconds round up)."""
    m = re.fullmatch(r"(\d+)|(?:(\d+)-)?(\d+):(\d+):(\d+)", text.strip())
    if not m:
        raise RlsightError(f"--time {text!r}: give minutes (90), HH:MM:SS or D-HH:MM:SS")
    if m.group(1):
        total = int(m.group(1))
    else:
        d, h, mi, sec = (int(x or 0) for x in m.groups()[1:])
        total = d * 1440 + h * 60 + mi + (1 if sec else 0)
    if total < 1:
        raise RlsightError(f"--time {text!r}: must be at least one minute")
    return total


def megabytes(text: str) -> int:
    """A memory size such as 16G or 500M in megabytes (no unit: gigabytes)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)B?", text.strip().upper())
    if not m:
        raise RlsightError(f"--mem {text!r}: give a size such as 16G or 500M")
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024, "": 1024}[m.group(2)]
    return max(1, int(float(m.group(1)) * scale))


# how long a resumed job waits for its earlier incarnation's lock on the run (SLURM's KillWait is 30 s by default)
RESUME_LOCK_WAIT_S = 120


def warning_signal(text: str, limit_min: int) -> tuple[str, int]:
    """``B:USR1@120`` (or ``USR1@120``, ``USR1``: 60 s) as (signal name, seconds before the time limit)."""
    from rlsight.training.preempt import SIGNAL_NAMES, parse_signal

    m = re.fullmatch(r"(?:B:)?([A-Za-z0-9]+)(?:@(\d+))?", text.strip())
    if not m:
        raise RlsightError(f"--signal {text!r}: give B:SIG@SECONDS, e.g. B:USR1@120 (SIG one of {', '.join(SIGNAL_NAMES)})")
    name = parse_signal(m.group(1)).name.removeprefix("SIG")
    secs = int(m.group(2) or 60)
    if not 0 < secs < limit_min * 60:
        raise RlsightError(f"--signal {text!r}: {secs} s before the time limit must be more than 0 and less than "
                           f"the job's {limit_min * 60} s")
    return name, secs


def _check(js: JobSpec) -> None:
    if js.scheduler not in SCHEDULERS:
        raise RlsightError(f"--scheduler {js.scheduler!r}: valid: {', '.join(SCHEDULERS)}")
    if js.cpus < 1 or js.gpus < 0:
        raise RlsightError("--cpus must be >= 1 and --gpus >= 0")
    for e in js.mail_on:
        if e not in MAIL_EVENTS:
            raise RlsightError(f"--mail-on {e!r}: valid: {', '.join(MAIL_EVENTS)}")
    if js.mail is not None and "@" not in js.mail:
        raise RlsightError(f"--mail {js.mail!r}: give an e-mail address")
    if js.signal is not None and js.scheduler != "slurm":
        raise RlsightError(f"--signal {js.signal!r} is for --scheduler slurm; LSF jobs checkpoint on SIGTERM")
    if js.max_requeues < 0:
        raise RlsightError(f"--max-requeues {js.max_requeues}: give 0 or more")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", js.job_name):
        raise RlsightError(f"--job-name {js.job_name!r}: use letters, digits, '_', '.', '-'")


def render(js: JobSpec) -> str:
    """The script's text."""
    _check(js)
    mins = minutes(js.time)
    log_dir = js.log_dir or str(Path(js.run_dir).parent)
    q = shlex.quote
    train_opts = ""
    if js.scheduler == "slurm":
        head = [f"#SBATCH --job-name={js.job_name}",
                f"#SBATCH --time={mins // 1440}-{mins % 1440 // 60:02d}:{mins % 60:02d}:00",
                "#SBATCH --nodes=1", "#SBATCH --ntasks=1", f"#SBATCH --cpus-per-task={js.cpus}",
                f"#SBATCH --mem={megabytes(js.mem)}M", f"#SBATCH --output={log_dir}/{js.job_name}-%j.out",
                "#SBATCH --open-mode=append",  # a requeued job keeps the lines of its earlier runs in the log
                "#SBATCH --requeue"]
        # SIGTERM (pre-emption, scancel, the time limit) and the warning signal make training write a checkpoint;
        # the job then requeues itself. B: sends the warning to the batch shell, which `exec` made the trainer.
        train_opts = f" --requeue --max-requeues {js.max_requeues}"
        if js.signal is not None:
            name, secs = warning_signal(js.signal, mins)
            head.append(f"#SBATCH --signal=B:{name}@{secs}")
            train_opts = f" --signal {name}" + train_opts
        if js.queue:
            head.append(f"#SBATCH --partition={js.queue}")
        if js.gpus:
            head.append(f"#SBATCH --gres=gpu:{js.gpus}")
        if js.mail:
            head += [f"#SBATCH --mail-user={js.mail}", f"#SBATCH --mail-type={','.join(e.upper() for e in js.mail_on) or 'NONE'}"]
        submit = "sbatch"
    else:
        head = [f"#BSUB -J {js.job_name}", f"#BSUB -W {mins // 60}:{mins % 60:02d}", f"#BSUB -n {js.cpus}",
                '#BSUB -R "span[hosts=1]"', f'#BSUB -R "rusage[mem={megabytes(js.mem)}]"',
                f"#BSUB -o {log_dir}/{js.job_name}-%J.out"]
        if js.queue:
            head.append(f"#BSUB -q {js.queue}")
        if js.gpus:
            head.append(f'#BSUB -gpu "num={js.gpus}"')
        if js.mail:
            head.append(f"#BSUB -u {js.mail}")
            if "begin" in js.mail_on:
                head.append("#BSUB -B")
            if "end" in js.mail_on or "fail" in js.mail_on:
                head.append("#BSUB -N")
        submit = "bsub <"
    sets = " ".join(f"--set {q(o)}" for o in js.overrides)
    lines = [
        "#!/bin/bash",
        f"# rlsight training job: submit with `{submit} THIS_FILE`; submitting it again resumes the run.",
        *head,
        "set -euo pipefail",
        *js.setup,
        f"RUN_DIR={q(js.run_dir)}",
        'if grep -qs \'"status": *"finished"\' "$RUN_DIR/rlsight-run.json"; then',
        '    echo "$RUN_DIR: already finished"',
        'elif [ -f "$RUN_DIR/rlsight-run.json" ]; then',
        f'    exec {js.command} train --resume "$RUN_DIR" --no-progress --lock-wait {RESUME_LOCK_WAIT_S}{train_opts}',
        "else",
        f'    exec {js.command} train --config {q(js.config)} {sets + " " if sets else ""}--run-dir "$RUN_DIR" '
        f'--no-progress{train_opts}',
        "fi",
    ]
    return "\n".join(lines) + "\n"
