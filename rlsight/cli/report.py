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
    g = p.add_argument_group("explorer", "interactive explorer pages: an episode per run and per pair of runs, "
                                         "scrubbable, with timelines, bookmarks, saliency and feature maps")
    g.add_argument("--explore", action="store_true", help="write explorer pages for the runs that have a model "
                                                          "(implied by the other --explore-* options)")
    g.add_argument("--explore-level", type=int, metavar="N", help="level to play (default: the first held-out level)")
    g.add_argument("--explore-seed", type=int, metavar="S", help="environment and sampling seed (default 0)")
    g.add_argument("--explore-steps", type=int, metavar="T", help="cut the episode after T steps (default 1000)")
    g.add_argument("--explore-methods", metavar="M[,M]",
                   help="saliency methods for the overlays (default gradient,integrated-gradients)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``rlsight report``: build the HTML report and print where it is."""
    from rlsight.report import build_report

    def warn(msg: str) -> None:
        print(f"rlsight report: warning: {msg}", file=sys.stderr)

    metrics = [m.strip() for m in args.metric.split(",") if m.strip()] if args.metric else None
    index = build_report(args.runs, args.out, metrics=metrics, x=args.x, smooth=args.smooth, group_by=args.group_by,
                         reference=args.reference, stat=args.stat, title=args.title, warn=warn,
                         explore=explore_options(args))
    print(f"wrote {index}  (open file://{index.resolve()})")
    return 0


def explore_options(args: argparse.Namespace):
    """The explorer's options from the command line, or None when no --explore* option was given."""
    from rlsight.report.explorer import DEFAULT_METHODS, ExploreOptions

    given = [args.explore_level, args.explore_seed, args.explore_steps, args.explore_methods]
    if not args.explore and all(v is None for v in given):
        return None
    methods = tuple(m.strip() for m in args.explore_methods.split(",") if m.strip()) if args.explore_methods \
        else DEFAULT_METHODS
    return ExploreOptions(level=args.explore_level, seed=args.explore_seed if args.explore_seed is not None else 0,
                          steps=args.explore_steps if args.explore_steps is not None else 1000, methods=methods)
