"""rlsight ablate."""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    """Add the ``ablate`` subcommand to ``sub`` (argparse subparsers)."""
    p = sub.add_parser("ablate", help="remove one stored feature and measure the change in behaviour",
                       description="Project a feature's direction out of its layer (see `rlsight features`) and play "
                                   "held-out episodes with and without it; the change in return and episode length "
                                   "with 95% bootstrap intervals over paired episodes.")
    p.add_argument("run", help="run directory with stored features")
    p.add_argument("--feature", type=int, required=True, help="feature index (0 = the one carrying the most attribution)")
    p.add_argument("--episodes", type=int, default=256, help="held-out episodes each way (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed for the environments and the action sampling")
    p.add_argument("--greedy", action="store_true", help="take the most likely action instead of sampling")
    p.add_argument("--json", action="store_true", help="print the result as JSON (without per-episode lists)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``rlsight ablate``: run the ablation and print the changes."""
    from rlsight.explain.features.runs import ablate_run

    res, out = ablate_run(args.run, args.feature, episodes=args.episodes, seed=args.seed, greedy=args.greedy)
    if args.json:
        print(json.dumps({k: v for k, v in res.items() if k not in ("returns", "lengths")}, indent=2))
        return 0
    print(f"{res['run']}: {res['label']} removed at {res['layer']}, {res['episodes']} held-out episodes each way")
    for what in ("return", "length"):
        ci = res[f"{what}_change"]
        print(f"  {what}: {res[f'baseline_{what}']:.2f} -> {res[f'ablated_{what}']:.2f}, change {ci['mean']:+.2f} "
              f"[{ci['low']:+.2f}, {ci['high']:+.2f}] 95% CI: {res[f'{what}_verdict']}")
    print(f"verdict: {res['verdict']}; written: {out}")
    return 0
