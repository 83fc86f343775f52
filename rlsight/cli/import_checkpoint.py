"""rlsight import-checkpoint (formerly import-seed, still accepted)."""

from __future__ import annotations

import argparse
import sys

OLD_NAME = "import-seed"


def register(sub) -> None:
    """Add ``import-checkpoint`` and its old name ``import-seed`` (hidden from the command list)."""
    p = sub.add_parser("import-checkpoint", help="turn an original-project checkpoint (.pt) into a run directory",
                       description="Import one of the original project's checkpoints; the encoder is detected "
                                   "from its keys.")
    _arguments(p)
    p.set_defaults(func=run)
    old = sub.add_parser(OLD_NAME, description="Old name of `rlsight import-checkpoint`.")
    _arguments(old)
    old.set_defaults(func=run_old_name)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the .pt state dict (loaded with weights_only=True)")
    p.add_argument("--game", required=True, help="the Procgen game it was trained on")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--num-levels", type=int, default=500,
                   help="training levels it saw, [0, N); held-out levels start at N (default 500, which also "
                        "keeps clear of the 10-level baseline)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an env.* or model.* setting it was trained with, e.g. env.use_backgrounds=true "
                        "(repeatable; default: the original project's env.use_backgrounds=false, "
                        "env.restrict_themes=true, env.distribution_mode=easy)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")


def run(args: argparse.Namespace) -> int:
    """Import the checkpoint and print what was imported."""
    from rlsight.config import GAMES
    from rlsight.errors import RlsightError
    from rlsight.runs.importer import import_checkpoint

    if args.game not in GAMES:
        raise RlsightError(f"--game {args.game!r}: unknown game; valid: {', '.join(GAMES)}")
    r = import_checkpoint(args.checkpoint, args.game, args.out, num_levels=args.num_levels, overrides=args.set,
                          overwrite=args.overwrite)
    cfg = r.config()
    print(f"{r.path}: imported {cfg.model.encoder} model for {args.game}")
    return 0


def run_old_name(args: argparse.Namespace) -> int:
    """``rlsight import-seed``: say where the command went, then run it."""
    print(f"rlsight {OLD_NAME} is now `rlsight import-checkpoint`; running that", file=sys.stderr)
    return run(args)
