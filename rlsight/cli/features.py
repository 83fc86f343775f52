"""rlsight features."""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    """Add the ``features`` subcommand to ``sub`` (argparse subparsers)."""
    p = sub.add_parser("features", help="learned features of a model (NMF of a layer, with attribution), or two compared",
                       description="Attribute the value and the policy to a hidden layer on the run's state dataset, "
                                   "split the layer into k features by NMF and store them in RUN/explain/features/. "
                                   "With RUN_B: both models' features on RUN's frames, matched by correlation, with "
                                   "random-weights networks as the null.")
    p.add_argument("run", help="run directory")
    p.add_argument("run_b", nargs="?", help="a second run of the same game to compare with")
    p.add_argument("--k", type=int, default=8, help="number of features (default 8; at most the layer's channels)")
    p.add_argument("--layer", help="layer of RUN (default: the encoder's last spatial layer; --list-layers)")
    p.add_argument("--layer-b", help="layer of RUN_B (default: its encoder's last spatial layer)")
    p.add_argument("--list-layers", action="store_true", help="list the spatial layers of RUN's model and stop")
    p.add_argument("--frames", type=int, help="use this many frames of the state dataset, spread evenly (default all)")
    p.add_argument("--attribution", default="ig", help="ig (integrated gradients, default) or gxa (gradient x activation)")
    p.add_argument("--steps", type=int, default=8, help="integrated-gradients steps (default 8)")
    p.add_argument("--random-networks", type=int, default=19,
                   help="random-weights networks per architecture in the null (default and least 19; a match must "
                        "beat the best match of all of them but floor(0.05 (N + 1)) - 1, so p <= 0.05)")
    p.add_argument("--seed", type=int, default=0, help="NMF and random-network seed")
    p.add_argument("--overwrite", action="store_true", help="replace stored features computed with other settings")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=run)


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def run(args: argparse.Namespace) -> int:
    """``rlsight features``: compute/compare and print a table."""
    from rlsight.explain.features.api import comparison_table, feature_table
    from rlsight.explain.features.runs import compare_runs, list_layers, run_features

    if args.list_layers:
        for name, (c, h, w) in list_layers(args.run):
            print(f"{name}  {c}x{h}x{w}")
        return 0
    common = dict(k=args.k, layer=args.layer, frames=args.frames, method=args.attribution, steps=args.steps,
                  seed=args.seed, overwrite=args.overwrite)
    if args.run_b is None:
        fs = run_features(args.run, **common)
        df = feature_table(fs, fs.meta.get("run", args.run))
        if args.json:
            print(json.dumps(df.to_dict(orient="records"), indent=2))
            return 0
        print(f"{fs.k} features of {fs.meta.get('run')} at {fs.layer} over {fs.meta.get('frames')} frames "
              f"({fs.meta.get('attribution')}); share of |attribution|:")
        for f in fs.features:
            print(f"  {f.label}: value {_pct(f.value_share)}  policy {_pct(f.policy_share)}")
        return 0
    cmp, out = compare_runs(args.run, args.run_b, layer_b=args.layer_b, random_networks=args.random_networks,
                            **common)
    df = comparison_table(cmp)
    if args.json:
        print(json.dumps(df.to_dict(orient="records"), indent=2))
        return 0
    m = cmp.meta
    print(f"{m['run_a']} ({m['encoders'][0]}) vs {m['run_b']} ({m['encoders'][1]}) on {m['frames']} frames of "
          f"{m['frames_from']}; a feature is matched when its best correlation beats the best matches of "
          f"{m['random_networks'][0]} random-weights networks of the other's architecture (Monte Carlo test, "
          f"p <= {m['alpha']:g}; 'null' below is the best match it must beat)")
    for side, run_name, other in (("a", m["run_a"], m["run_b"]), ("b", m["run_b"], m["run_a"])):
        lack = cmp.lacking(side)
        print(f"{run_name} has, {other} lacks: " + (", ".join(
            f"{x.label} (value {_pct(x.value_share).strip()}, policy {_pct(x.policy_share).strip()}; "
            f"best r={x.best_corr:.2f}, null {x.null_threshold:.2f}, p={x.p_value:.2f})" for x in lack) or "nothing"))
    print(f"written: {out}")
    return 0
