"""rlsight train."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from rlsight import presets


def register(sub) -> None:
    """Add the ``train`` subcommand to ``sub`` (argparse subparsers)."""
    p = sub.add_parser("train", help="train a PPO agent from a config file, or resume a run",
                       description="Train a PPO agent. Runs are directories that every other command reads.")
    p.add_argument("--config", help=f"TOML file or preset name ({', '.join(presets.names())})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. ppo.lr=3e-4 (repeatable)")
    p.add_argument("--run-dir", help="where to write the run (default: runs/<config>-<game>-s<seed>-<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its newest checkpoint")
    p.add_argument("--compare-to", metavar="RUN", help="draw this run's curve on the live progress plot")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (one summary line at the end)")
    p.add_argument("--signal", action="append", default=[], metavar="SIG",
                   help="another signal (e.g. USR1) that, like SIGINT and SIGTERM, makes training finish the current "
                        "update, write a checkpoint and stop (repeatable)")
    p.add_argument("--requeue", action="store_true",
                   help="after a signal stopped training, inside a SLURM batch job: requeue the job "
                        "(`scontrol requeue $SLURM_JOB_ID`) so that it resumes the run (what `rlsight jobscript` "
                        "uses; elsewhere it only says so)")
    p.add_argument("--max-requeues", type=int, default=20, metavar="N",
                   help="with --requeue: stop requeueing once SLURM_RESTART_COUNT reaches N (default 20)")
    p.add_argument("--lock-wait", type=float, default=0.0, metavar="SECONDS",
                   help="with --resume: wait this long for another process that still trains into the run "
                        "(a requeued job's earlier incarnation) instead of stopping at once")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``rlsight train``: train a new run or resume one, then print a summary line."""
    from rlsight import config as C
    from rlsight.errors import RlsightError
    from rlsight.hardware import bf16_hint
    from rlsight.training import resume, train
    from rlsight.training.preempt import requeue, stop_signals

    progress = not args.no_progress
    signals = stop_signals(args.signal)
    if args.max_requeues < 0:
        raise RlsightError(f"--max-requeues {args.max_requeues}: give 0 or more")
    if args.lock_wait < 0:
        raise RlsightError(f"--lock-wait {args.lock_wait}: give 0 or more seconds")
    if args.resume:
        if args.config or args.set or args.run_dir:
            raise RlsightError("--resume DIR takes the run's own config; drop --config/--set/--run-dir")
        r = resume(args.resume, progress=progress, lock_wait_s=args.lock_wait, stop_signals=signals)
    else:
        if not args.config:
            raise RlsightError(f"give --config FILE (or a preset: {', '.join(presets.names())}) or --resume DIR")
        cfg = C.load(args.config, args.set)
        run_dir = args.run_dir or str(Path("runs") / f"{Path(args.config).stem}-{cfg.env.game}-s{cfg.train.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
        if not args.run_dir:
            Path("runs").mkdir(exist_ok=True)
        print(f"run directory: {run_dir}", file=sys.stderr)
        hint = bf16_hint(cfg)
        if hint:
            print(hint, file=sys.stderr)
        r = train(cfg, run_dir, overwrite=args.overwrite, progress=progress, compare_to=args.compare_to,
                  stop_signals=signals)
    rows = r.metrics()
    if rows:
        last = rows[-1]
        print(f"{r.path}: {r.info()['status']} at step {int(last['step'])}, "
              f"train return {last['train_return']:.2f}, test return {last['test_return']:.2f}, sps {last['sps']:.0f}"
              f"{_time_split(rows)}")
    if args.requeue and r.info().get("status") == "interrupted":  # stopped by a signal, checkpoint written
        print(f"{r.path}: {requeue(args.max_requeues)}", file=sys.stderr, flush=True)
    return 0


def _time_split(rows: list[dict]) -> str:
    """", 14% of the time collecting rollouts, 86% learning", or "" if nothing was timed."""
    from rlsight.training.progress import rollout_share

    share = rollout_share(rows)
    return "" if math.isnan(share) else f", {share:.0%} of the time collecting rollouts, {1 - share:.0%} learning"
