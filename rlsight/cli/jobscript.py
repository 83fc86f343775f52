"""rlsight jobscript: an sbatch or bsub script for one training run."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

DEFAULT_SIGNAL_S = 120
DEFAULT_SIGNAL = f"B:USR1@{DEFAULT_SIGNAL_S}"


def register(sub) -> None:
    """Add the ``jobscript`` subcommand to ``sub`` (argparse subparsers)."""
    p = sub.add_parser("jobscript", help="write an sbatch (SLURM) or bsub (LSF) script for one training run",
                       description="Write a job script that trains one config on a cluster node. Submitting the "
                                   "same script again resumes the run from its last checkpoint.")
    p.add_argument("--config", required=True, help="TOML file or preset name")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    p.add_argument("--run-dir", help="run directory (default: runs/<config>-<game>-s<seed>, made absolute)")
    p.add_argument("--scheduler", choices=("slurm", "lsf"), default="slurm", help="sbatch (slurm, default) or bsub (lsf)")
    p.add_argument("--job-name", default=None, help="job name (default: the run directory's name)")
    p.add_argument("--partition", "--queue", dest="queue", help="SLURM partition / LSF queue")
    p.add_argument("--time", default="04:00:00", help="time limit: minutes, HH:MM:SS or D-HH:MM:SS (default 04:00:00)")
    p.add_argument("--cpus", type=int, default=1, help="CPU cores (also sets train.torch_threads)")
    p.add_argument("--gpus", type=int, default=0, help="GPUs (default 0)")
    p.add_argument("--mem", default="8G", help="memory, e.g. 16G (default 8G)")
    p.add_argument("--mail", metavar="ADDRESS", help="send e-mail to ADDRESS")
    p.add_argument("--mail-on", default="end,fail", help="when to send it: begin, end, fail (default end,fail)")
    p.add_argument("--setup", action="append", default=[], metavar="LINE",
                   help="shell line run before training, e.g. 'source ~/venvs/rlsight/bin/activate' (repeatable)")
    p.add_argument("--signal", default=DEFAULT_SIGNAL, metavar="B:SIG@SECONDS",
                   help="SLURM: the signal sent SECONDS before the time limit; it, like SIGTERM (pre-emption), makes "
                        "training write a checkpoint, and the job requeues itself (default B:USR1@120; 'none': "
                        "SIGTERM only)")
    p.add_argument("--max-requeues", type=int, default=20, metavar="N",
                   help="SLURM: how many times the job may requeue itself (default 20)")
    p.add_argument("--out", help="write the script here (default: print it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``rlsight jobscript``: validate the config, then print or write the job script."""
    from rlsight import config as C
    from rlsight.errors import RlsightError
    from rlsight.runs.atomic import atomic_write_text
    from rlsight.sweep.jobscript import JobSpec, render

    overrides = list(args.set)
    if not any(o.split("=", 1)[0].strip() == "train.torch_threads" for o in overrides):
        overrides.append(f"train.torch_threads={args.cpus}")
    cfg = C.load(args.config, overrides)  # a bad config fails here, not on the cluster
    cfg.check_trainable()
    config = str(Path(args.config).resolve()) if Path(args.config).is_file() else args.config
    run_dir = args.run_dir or str(Path("runs") / f"{Path(args.config).stem}-{cfg.env.game}-s{cfg.train.seed}")
    run_dir = os.path.abspath(run_dir)
    js = JobSpec(config=config, run_dir=run_dir, overrides=overrides, scheduler=args.scheduler,
                 job_name=args.job_name or Path(run_dir).name, queue=args.queue, time=args.time, cpus=args.cpus,
                 gpus=args.gpus, mem=args.mem, mail=args.mail,
                 mail_on=[e.strip() for e in args.mail_on.split(",") if e.strip()], setup=args.setup,
                 # without --setup lines that activate an environment on the node, this one's interpreter
                 command="rlsight" if args.setup else f"{shlex.quote(sys.executable)} -m rlsight.cli.main",
                 signal=_signal_option(args), max_requeues=args.max_requeues)
    text = render(js)
    out = Path(args.out) if args.out else None
    if out is not None and out.exists():
        raise RlsightError(f"{out} exists; remove it or give another --out")
    if out is not None and not out.parent.is_dir():
        raise RlsightError(f"--out {out}: folder {out.parent} does not exist")
    log_dir = Path(js.log_dir or Path(run_dir).parent)
    if not log_dir.is_dir():  # the scheduler opens the job's log before the script runs: it must exist
        log_dir.mkdir(parents=True)
        print(f"made {log_dir} for the job's log and run directory", file=sys.stderr)
    if out is not None:
        atomic_write_text(out, text)
        out.chmod(0o755)
        print(f"{out}: submit with `{'sbatch' if args.scheduler == 'slurm' else 'bsub <'} {out}`", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _signal_option(args: argparse.Namespace) -> str | None:
    """--signal as given; None for 'none', and for LSF when left at its SLURM default (which
    comes half-way through a time limit of 4 minutes or less)."""
    from rlsight.sweep.jobscript import minutes

    if args.signal.strip().lower() == "none":
        return None
    if args.signal == DEFAULT_SIGNAL:
        if args.scheduler != "slurm":
            return None
        limit_s = minutes(args.time) * 60
        if limit_s <= 2 * DEFAULT_SIGNAL_S:
            return f"B:USR1@{limit_s // 2}"
    return args.signal
