"""rlsight sweep run | status | best | plot."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub) -> None:
    """Add the ``sweep`` subcommand and its actions (run, status, best, plot) to ``sub``."""
    p = sub.add_parser("sweep", help="hyperparameter sweeps: run, status, best, plot",
                       description="Search hyperparameters (one-at-a-time, grid, random, tpe) on this machine or on "
                                   "SLURM. Running the same `sweep run` again continues an interrupted sweep. "
                                   "See docs/sweeps.md.")
    s = p.add_subparsers(dest="sweep_command", metavar="ACTION")
    r = s.add_parser("run", help="run or continue a sweep")
    r.add_argument("sweep_file", metavar="SWEEP.toml")
    r.add_argument("--launcher", choices=("local", "slurm"), default="local",
                   help="local: worker processes here (default); slurm: one job per trial via submitit")
    r.add_argument("--dir", help="sweep directory (default: sweeps/<file name>)")
    r.add_argument("--workers", type=int, help="local workers at once (default: [local] workers in the file)")
    r.set_defaults(func=run)
    st = s.add_parser("status", help="trials with parameters, objective, state and run directory")
    st.add_argument("dir", metavar="DIR")
    st.add_argument("--json", action="store_true", help="one JSON object per trial")
    st.set_defaults(func=status)
    b = s.add_parser("best", help="write the best trial's config, ready for `rlsight train --config`")
    b.add_argument("dir", metavar="DIR")
    b.add_argument("--out", required=True, help="TOML file to write (e.g. best.toml)")
    b.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    b.set_defaults(func=best)
    pl = s.add_parser("plot", help="plot the objective against each parameter")
    pl.add_argument("dir", metavar="DIR")
    pl.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    pl.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    pl.set_defaults(func=plot)
    p.set_defaults(func=lambda a: p.print_help() or 2)


def run(args: argparse.Namespace) -> int:
    """``rlsight sweep run``: run or continue a sweep; exit status 0 when a trial completed."""
    from rlsight.sweep import run_sweep

    recs = run_sweep(args.sweep_file, args.dir, args.launcher, args.workers,
                     say=lambda m: print(m, file=sys.stderr, flush=True))
    return 0 if any(r.state == "COMPLETE" for r in recs) else 1


def status(args: argparse.Namespace) -> int:
    """``rlsight sweep status``: print the sweep's trials (a table, or JSON lines)."""
    from rlsight.sweep import format_status, status_rows

    if args.json:
        for row in status_rows(args.dir)[1]:
            print(json.dumps(row))
    else:
        print(format_status(args.dir))
    return 0


def best(args: argparse.Namespace) -> int:
    """``rlsight sweep best``: write the best trial's config to ``--out``."""
    from rlsight.runs.atomic import atomic_write_text, check_new_file
    from rlsight.sweep import best_config

    out = check_new_file(args.out, "--out", args.overwrite)
    cfg, rec = best_config(args.dir)
    params = ", ".join(f"{k} = {v!r}" for k, v in rec.params.items())
    text = f"# Best trial {rec.number} of sweep {args.dir} (objective {rec.value:.6g}): {params}\n" + cfg.to_toml()
    atomic_write_text(out, text)
    print(f"{out}: trial {rec.number}, objective {rec.value:.4g} ({params})")
    return 0


def plot(args: argparse.Namespace) -> int:
    """``rlsight sweep plot``: plot the objective against each parameter."""
    from rlsight.analysis import FIGURE_FORMATS
    from rlsight.runs.atomic import check_new_file
    from rlsight.sweep import plot as plot_sweep

    check_new_file(args.out, "--out", args.overwrite, FIGURE_FORMATS)

    print(plot_sweep(args.dir, args.out))
    return 0
