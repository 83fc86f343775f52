"""rlsight compare."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    """Add the ``compare`` subcommand to ``sub`` (argparse subparsers)."""
    p = sub.add_parser(
        "compare", help="plot runs against each other with 95%% bootstrap bands, and print a summary table",
        description="Compare runs: runs whose configs differ only in train.seed form a group, drawn as the mean "
                    "with a 95% bootstrap confidence band. See docs/compare.md.")
    p.add_argument("runs", nargs="+", metavar="RUN_OR_GLOB", help="run directories, folders of runs, or globs")
    p.add_argument("--out", metavar="FILE", help="write the plot to FILE (.png, .pdf or .svg)")
    p.add_argument("--metric", default="auto",
                   help="metric(s) to plot, comma-separated: train_return, test_return, train_norm_return, "
                        "test_norm_return, gap, train_reward_rate, test_reward_rate, policy_loss, value_loss, "
                        "entropy, approx_kl, sps, ... (default: test_return, or test_reward_rate for imported "
                        "seed runs)")
    p.add_argument("--x", default="steps", choices=["steps", "wall_time"], help="x axis (default steps)")
    p.add_argument("--smooth", type=int, default=1, metavar="N", help="moving average over N points per run (default 1: none)")
    p.add_argument("--group-by", metavar="KEY[,KEY]",
                   help="group runs by these config keys (e.g. model.encoder); 'none': one group per run; "
                        "default: runs that differ only in train.seed")
    p.add_argument("--reference", action="append", default=[], metavar="FILE_OR_DIR",
                   help="reference curves: the original project's rewards.json or published CSVs (repeatable)")
    p.add_argument("--full-reference", action="store_true", help="draw reference curves beyond the runs' last step")
    p.add_argument("--stat", default="auto", choices=["auto", "mean", "iqm"],
                   help="aggregate over runs (default: mean; IQM for groups that span games)")
    p.add_argument("--show-runs", action="store_true", help="also draw each run as a thin line")
    p.add_argument("--table", default="terminal", choices=["terminal", "md", "csv", "none"],
                   help="summary table format on standard output (default terminal)")
    p.add_argument("--generalisation-csv", metavar="FILE",
                   help="write the generalisation table (train, held-out and shifted settings from RUN/eval/, "
                        "with 95%% intervals and gaps) to FILE as CSV; terminal and md tables print it after the summary")
    p.add_argument("--per-run", action="store_true", help="one table row per run instead of per group")
    p.add_argument("--dpi", type=int, default=150, help="resolution of a PNG (default 150)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out or --generalisation-csv file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``rlsight compare``: plot and/or tabulate the runs; returns the exit status."""
    from rlsight.analysis import (
        GENERALISATION_NOTE,
        check_figure_path,
        compare,
        generalisation_table,
        render_generalisation,
    )
    from rlsight.analysis import render_table as render
    from rlsight.errors import RlsightError
    from rlsight.runs.atomic import atomic_write_bytes, atomic_write_text, check_new_file

    if args.dpi < 1:
        raise RlsightError(f"--dpi {args.dpi}: must be >= 1")
    out = check_figure_path(args.out, args.overwrite) if args.out else None  # every output checked before the work
    if args.generalisation_csv:
        check_new_file(args.generalisation_csv, "--generalisation-csv", args.overwrite)

    def warn(msg: str) -> None:
        print(f"rlsight compare: warning: {msg}", file=sys.stderr)

    fig, table, comp = compare(args.runs, metric=args.metric, x=args.x, smooth=args.smooth, group_by=args.group_by,
                               reference=args.reference, stat=args.stat, per_run=args.per_run,
                               show_runs=args.show_runs, clip_reference=not args.full_reference, warn=warn)
    if out is not None:
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format=out.suffix.lstrip(".").lower(), dpi=args.dpi)
        atomic_write_bytes(out, buf.getvalue())
        print(f"wrote {out} ({len(comp.runs)} runs)", file=sys.stderr)
    if args.table != "none":
        print(render(table, args.table), end="")
        if args.table != "csv":
            print("intervals: 95% bootstrap CI over runs (percentile, 2000 resamples); a group spanning games "
                  "reports the IQM of normalised scores with a stratified bootstrap")
        gen = generalisation_table(comp.runs, per_run=args.per_run)
        if len(gen) and args.table != "csv":  # CSV: one table on standard output; --generalisation-csv FILE
            print()
            print(render_generalisation(gen, args.table), end="")
            print(GENERALISATION_NOTE)
    if args.generalisation_csv:
        gen = generalisation_table(comp.runs, per_run=args.per_run)
        atomic_write_text(args.generalisation_csv, render_generalisation(gen, "csv"))
    return 0
