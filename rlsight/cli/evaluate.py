"""rlsight evaluate."""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    """Add the ``evaluate`` subcommand to ``sub`` (argparse subparsers)."""
    p = sub.add_parser("evaluate", help="mean episodic return on training or held-out levels",
                       description="Evaluate a run's model: every environment plays the same number of complete episodes.")
    p.add_argument("run", help="run directory")
    p.add_argument("--split", default="test", help="train or test (held-out levels; default)")
    p.add_argument("--episodes", type=int, default=256, help="episodes in all (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed for the environments and the action sampling")
    p.add_argument("--greedy", action="store_true", help="take the most likely action instead of sampling")
    p.add_argument("--random", action="store_true", help="play uniformly random actions instead of the model: "
                   "the setting's floor, e.g. in an Atari flavour without published scores (saved as *-random.json)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--set", dest="env_set", action="append", default=[], metavar="KEY=VALUE",
                   help="distribution shift (repeatable): for Procgen env.distribution_mode, env.use_backgrounds, "
                        "env.restrict_themes or env.use_monochrome_assets; for Atari env.game_mode, env.difficulty "
                        "or env.sticky_actions")
    p.add_argument("--levels", metavar="START:COUNT", help="Procgen: play levels [START, START+COUNT) instead of "
                   "the split's (0:0 = every level seed)")
    p.add_argument("--suite", choices=["generalisation"], help="run the standard set in one command: train, "
                   "held-out, then for Procgen held-out in the other difficulty mode and with backgrounds switched, "
                   "for Atari held-out in the next difficulty and the next game mode")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``rlsight evaluate``: evaluate one run (or the ``--suite`` set) and print the result."""
    from rlsight.errors import RlsightError
    from rlsight.evaluation import evaluate, evaluate_suite
    from rlsight.shift import parse_levels, suite_table

    common = dict(episodes=args.episodes, seed=args.seed, greedy=args.greedy, device=args.device, random=args.random)
    if args.suite:
        if args.env_set or args.levels:
            raise RlsightError("--suite sets its own levels and settings: give it without --set or --levels")
        results = evaluate_suite(args.run, args.suite, **common)
        print(json.dumps(results, indent=2) if args.json else suite_table(results))
        return 0
    levels = parse_levels(args.levels) if args.levels else None
    r = evaluate(args.run, split=args.split, env_set=args.env_set, levels=levels, **common)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        norm = "" if r["normalized_return"] is None else f", normalised {r['normalized_return']:.3f}"
        shift = f" ({r['setting']})" if r.get("setting") else ""
        played = (f"levels [{r['start_level']}, +{r['num_levels']})" if "start_level" in r
                  else f"({r['protocol'].split(':')[0]})")
        policy = " (random actions)" if args.random else ""
        split = "" if r["split"] == "levels" else f" {r['split']}"  # --levels: "levels [START, +COUNT)" says it
        print(f"{r['run']} {r['game']}{split} {played}{shift}{policy}: "
              f"return {r['mean_return']:.2f} ± {r['stderr']:.2f} (s.e.) over {r['episodes']} episodes{norm}")
    return 0
