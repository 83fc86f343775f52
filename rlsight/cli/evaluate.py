"""rlsight evaluate."""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="mean episodic return on training or held-out levels",
                       description="Evaluate a run's model: every environment plays the same number of complete episodes.")
    p.add_argument("run", help="run directory")
    p.add_argument("--split", default="test", help="train or test (held-out levels; default)")
    p.add_argument("--episodes", type=int, default=256, help="episodes in all (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed for the environments and the action sampling")
    p.add_argument("--greedy", action="store_true", help="take the most likely action instead of sampling")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rlsight.evaluate import evaluate

    r = evaluate(args.run, split=args.split, episodes=args.episodes, seed=args.seed, greedy=args.greedy, device=args.device)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        norm = "" if r["normalized_return"] is None else f", normalised {r['normalized_return']:.3f}"
        print(f"{r['run']} {r['game']} {r['split']} levels [{r['start_level']}, +{r['num_levels']}): "
              f"return {r['mean_return']:.2f} ± {r['stderr']:.2f} (s.e.) over {r['episodes']} episodes{norm}")
    return 0
