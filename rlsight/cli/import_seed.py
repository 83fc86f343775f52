"""rlsight import-seed."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("import-seed", help="turn a seed-project checkpoint (.pt) into a run directory",
                       description="Import one of the original project's checkpoints; the encoder is detected from its keys.")
    p.add_argument("checkpoint", help="the .pt state dict (loaded with weights_only=True)")
    p.add_argument("--game", required=True, help="the Procgen game it was trained on")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--num-levels", type=int, default=500,
                   help="training levels it saw, [0, N); held-out levels start at N (default 500, which also "
                        "keeps clear of the 10-level baseline)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rlsight.config import GAMES
    from rlsight.errors import RlsightError
    from rlsight.runs.importer import import_seed

    if args.game not in GAMES:
        raise RlsightError(f"--game {args.game!r}: unknown game; valid: {', '.join(GAMES)}")
    r = import_seed(args.checkpoint, args.game, args.out, num_levels=args.num_levels, overwrite=args.overwrite)
    cfg = r.config()
    print(f"{r.path}: imported {cfg.model.encoder} model for {args.game}")
    return 0
