"""rlsight report."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    """Add the ``report`` subcommand to ``sub`` (argparse subparsers)."""
    p = sub.add_parser("report", help="write an offline HTML report comparing runs",
                       description="Write a static report (index.html, works from file:// with no network): "
                                   "interactive curves, summary table, config differences, evaluations, saliency "
                                   "videos and the TensorBoard command. See docs/report.md.")
    p.add_argument("runs", nargs="+", metavar="RUN_OR_GLOB", help="run directories, folders of runs, or globs")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (new, empty, or an earlier report)")
    p.add_argument("--metric", help="comma-separated metrics to chart (default: every usual metric the runs have)")
    p.add_argument("--x", default="steps", choices=["steps", "wall_time"], help="x axis (default steps)")
    p.add_argument("--smooth", type=int, default=1, metavar="N", help="moving average over N points per run")
    p.add_argument("--group-by", metavar="KEY[,KEY]", help="as in rlsight compare")
    p.add_argument("--reference", action="append", default=[], metavar="FILE_OR_DIR",
                   help="reference curves, as in rlsight compare (repeatable)")
    p.add_argument("--stat", default="auto", choices=["auto", "mean", "iqm"], help="aggregate over runs")
    p.add_argument("--title", help="page title")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``rlsight report``: build the HTML report and print where it is."""
    from rlsight.report import build_report

    def warn(msg: str) -> None:
        print(f"rlsight report: warning: {msg}", file=sys.stderr)

    metrics = [m.strip() for m in args.metric.split(",") if m.strip()] if args.metric else None
    index = build_report(args.runs, args.out, metrics=metrics, x=args.x, smooth=args.smooth, group_by=args.group_by,
                         reference=args.reference, stat=args.stat, title=args.title, warn=warn)
    print(f"wrote {index}  (open file://{index.resolve()})")
    return 0
