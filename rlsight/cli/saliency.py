"""rlsight saliency and rlsight saliency-check."""

from __future__ import annotations

import argparse

from rlsight.explain.saliency.options import CHECK, PLAY, MethodOptions, RenderOptions, default

M, R = MethodOptions, RenderOptions


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--game", default=None, help="game of the run's family (default: the run's)")
    p.add_argument("--level", type=int, default=PLAY.level, help=f"level to play (start_level; default {PLAY.level})")
    p.add_argument("--seed", type=int, default=PLAY.seed,
                   help=f"environment and action-sampling seed (default {PLAY.seed})")
    p.add_argument("--stride", type=int, default=default(M, "stride"),
                   help=f"perturbation: grid spacing in pixels (default {default(M, 'stride')})")
    p.add_argument("--radius", type=float, default=default(M, "radius"),
                   help=f"perturbation: mask radius in pixels (default {default(M, 'radius'):g})")
    p.add_argument("--blur-sigma", type=float, default=default(M, "blur_sigma"),
                   help=f"perturbation: sigma of the blurred frame (default {default(M, 'blur_sigma'):g})")
    p.add_argument("--per-channel", action="store_true", default=default(M, "per_channel"),
                   help="perturbation: perturb each colour channel on its own")
    p.add_argument("--samples", type=int, default=default(M, "samples"),
                   help=f"smoothgrad: noisy copies; integrated-gradients: steps (default {default(M, 'samples')})")
    p.add_argument("--noise", type=float, default=default(M, "noise"),
                   help=f"smoothgrad: noise std on [0, 1] frames (default {default(M, 'noise'):g})")
    p.add_argument("--chunk", type=int, default=default(M, "chunk"),
                   help="inputs per forward pass (default: the fastest of 32-256 measured on a CPU, 2048 on a GPU)")
    p.add_argument("--stack-frame", type=int, default=default(M, "stack_frame"),
                   help="stacked frames (Atari): the frame of the stack that perturbation blurs and gradient methods "
                        "attribute to, -1 = newest (the default on Atari runs), 0 = oldest")
    p.add_argument("--device", default=PLAY.device, help=f"cpu or cuda (default {PLAY.device})")


def register(sub) -> None:
    """Add the ``saliency`` and ``saliency-check`` subcommands to ``sub`` (argparse subparsers)."""
    p = sub.add_parser("saliency", help="saliency video or image of one or more runs",
                       description="Play a level and draw where the policy (actor) and the value (critic) look. "
                                   "Several runs go side by side on the same level and seed.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (imported original-project checkpoints work)")
    _common(p)
    p.add_argument("--method", default=PLAY.method,
                   help="a saliency method for every target, or one per target as actor=METHOD,critic=METHOD "
                        f"(see docs/saliency.md; a wrong name lists them all; default {PLAY.method})")
    p.add_argument("--frames", type=int, default=PLAY.frames, help=f"frames to draw (default {PLAY.frames})")
    p.add_argument("--start", type=int, default=PLAY.start,
                   help=f"steps to play before the first drawn frame (default {PLAY.start})")
    p.add_argument("--target", default=PLAY.target, help=f"actor, critic or both (default {PLAY.target})")
    p.add_argument("--mode", default=PLAY.mode, help="several runs: 'own' (each plays its own episode) or "
                                                     f"'replay' (every model sees the first run's trajectory; "
                                                     f"default {PLAY.mode})")
    p.add_argument("--greedy", action="store_true", default=PLAY.greedy,
                   help="take the most likely action instead of sampling")
    p.add_argument("--out", default=None, help="output .mp4, .gif or .png (a grid when --frames > 1), or a folder "
                                               "for a name made from the settings (default: current folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--fps", type=float, default=15.0, help="frames per second of a video (default 15)")
    p.add_argument("--color", default=default(R, "color"), help="red, green, blue (add to that channel) or a "
                   f"matplotlib colour map such as jet or inferno (default {default(R, 'color')})")
    p.add_argument("--intensity", type=float, default=default(R, "intensity"),
                   help=f"channel overlay strength (default {default(R, 'intensity'):g})")
    p.add_argument("--alpha", type=float, default=default(R, "alpha"),
                   help=f"colour-map overlay opacity at the map's peak (default {default(R, 'alpha'):g})")
    p.add_argument("--sigma", type=float, default=default(R, "sigma"),
                   help=f"Gaussian smoothing of the map, in 64x64 pixels (default {default(R, 'sigma'):g})")
    p.add_argument("--reduce", default=default(R, "reduce"),
                   help=f"over colour channels of a map: mean or max (default {default(R, 'reduce')})")
    p.add_argument("--normalize", default=default(R, "normalize"),
                   help=f"scale maps per frame or per video (default {default(R, 'normalize')})")
    p.add_argument("--background", default=default(R, "background"),
                   help=f"render (512x512 frame) or obs (64x64 observation; default {default(R, 'background')})")
    p.add_argument("--size", type=int, default=default(R, "size"),
                   help=f"tile side in pixels, a multiple of 16 (default {default(R, 'size')})")
    p.add_argument("--no-panel", action="store_true", help="leave out the side panel (step, action, probabilities, value)")
    p.add_argument("--grid-cols", type=int, default=None, help="PNG grid: frames per row")
    p.add_argument("--set", dest="env_set", action="append", default=[], metavar="KEY=VALUE",
                   help="play under a distribution shift, as rlsight evaluate --set (repeatable): for Procgen "
                        "env.distribution_mode, env.use_backgrounds, ...; for Atari env.game_mode or env.difficulty")
    p.set_defaults(func=run)

    c = sub.add_parser("saliency-check", help="faithfulness check of every saliency method on a run",
                       description="Score saliency methods on the run's state dataset (recorded on first use: "
                                   "64 held-out levels x 64 steps of its own policy): model randomisation, "
                                   "deletion/insertion against a random order, an edge-map and another model's "
                                   "maps, stability and speed, with bootstrap CIs over frames; ends with a verdict "
                                   "per method and stores the result in RUN/explain/faithfulness.json.")
    c.add_argument("runs", nargs="+", metavar="RUN", help="run directories (imported checkpoints work)")
    c.add_argument("--method", default=None, help="comma-separated methods to check (default: every method)")
    c.add_argument("--target", default=PLAY.target, help=f"actor, critic or both (default {PLAY.target})")
    c.add_argument("--other", default=None, metavar="RUN",
                   help="a run of the same game whose maps serve as the other-model baseline (default: n/a)")
    c.add_argument("--frames", type=int, default=None,
                   help=f"frames to score (default {CHECK.frames}; --quick {CHECK.quick_frames})")
    c.add_argument("--quick", action="store_true",
                   help=f"{CHECK.quick_frames} frames, top-block randomisation only")
    c.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="also write the results as JSON to PATH (no PATH: to stdout instead of the table)")
    c.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    for a in ("stride", "radius", "blur_sigma", "samples", "noise", "chunk", "ig_baseline"):
        typ = type(default(M, a)) if default(M, a) is not None else int
        c.add_argument("--" + a.replace("_", "-"), type=typ, default=default(M, a),
                       help=f"method option (default {default(M, a)})")
    c.add_argument("--set", dest="env_set", action="append", default=[], metavar="KEY=VALUE",
                   help="score on states played under a distribution shift, as rlsight saliency --set (repeatable); "
                        "stored apart, in RUN/explain/faithfulness-KEY=VALUE.json")
    c.add_argument("--seed", type=int, default=CHECK.seed, help=f"seed of every random choice (default {CHECK.seed})")
    c.add_argument("--device", default=PLAY.device, help=f"cpu or cuda (default {PLAY.device})")
    c.set_defaults(func=check)


def _method_options(args: argparse.Namespace) -> MethodOptions:
    """The method options of the command line, checked (a bad value fails before any work)."""
    return MethodOptions(stride=args.stride, radius=args.radius, blur_sigma=args.blur_sigma,
                         per_channel=getattr(args, "per_channel", default(M, "per_channel")), samples=args.samples,
                         noise=args.noise, chunk=args.chunk, seed=args.seed,
                         ig_baseline=getattr(args, "ig_baseline", default(M, "ig_baseline")),
                         stack_frame=getattr(args, "stack_frame", default(M, "stack_frame"))).validate()


def run(args: argparse.Namespace) -> int:
    """``rlsight saliency``: record the maps and write the video or image."""
    import dataclasses

    from rlsight.explain.saliency.methods import check_choice, methods_by_target
    from rlsight.explain.saliency.record import MODES, check_game, record, targets_for
    from rlsight.explain.saliency.render import RenderOptions
    from rlsight.explain.saliency.video import resolve_output, write_frames
    from rlsight.runs import RunDir
    from rlsight.runs.trackers import log_media, media_target
    from rlsight.shift import apply_shift

    ropts = RenderOptions(color=args.color, intensity=args.intensity, alpha=args.alpha, sigma=args.sigma,
                          reduce=args.reduce, normalize=args.normalize, background=args.background,
                          size=args.size, panel=not args.no_panel).validate()
    methods_by_target(args.method, targets_for(args.target))
    check_choice("mode", args.mode, MODES)
    mopts = _method_options(args)
    if args.grid_cols is not None and args.grid_cols < 1:
        from rlsight.errors import RlsightError

        raise RlsightError(f"--grid-cols {args.grid_cols}: must be >= 1")
    first = RunDir.open(args.runs[0]).config()
    game = args.game or first.env.game
    check_game(first.env, game)  # before the slow part, as a bad --set key or value below
    shift = apply_shift(dataclasses.replace(first, env=dataclasses.replace(first.env, game=game)), args.env_set,
                        plays="train", levels_option=False)[1]
    pre = {"runs": args.runs, "game": game, "level": args.level, "shift": shift, "seed": args.seed,
           "method": args.method, "target": args.target, "stride": args.stride, "radius": args.radius,
           "per_channel": args.per_channel, "mode": args.mode, "color": args.color, "frames": args.frames}
    out = resolve_output(args.out, pre, args.overwrite)  # fail before the slow part
    tracked = media_target(out)  # a file saved inside a run also goes to its wandb/mlflow runs
    res = record(args.runs, game=args.game, level=args.level, frames=args.frames, method=args.method,
                 target=args.target, mode=args.mode, seed=args.seed, start=args.start, greedy=args.greedy,
                 device=args.device, method_options=mopts, render=ropts, env_set=args.env_set)
    path = write_frames(out, res.frames, fps=args.fps, settings=res.settings, overwrite=args.overwrite,
                        grid_cols=args.grid_cols)
    if tracked is not None:
        log_media(tracked[0], tracked[1], path, tracked[2])
    h, w = res.frames.shape[1:3]
    shifted = f" ({', '.join(f'{k}={v}' for k, v in shift.items())})" if shift else ""
    where = f" level {args.level}" if first.env.family == "procgen" else ""  # Atari games have no levels
    print(f"{path}: {len(res.frames)} frame(s) of {w}x{h}, {args.method} on {res.settings['game']}"
          f"{where}{shifted}, {', '.join(res.labels)}")
    return 0


def check(args: argparse.Namespace) -> int:
    """``rlsight saliency-check``: score the methods on each run, print and/or write the results."""
    import sys

    from rlsight.explain.faithfulness.check import check_methods, check_run, to_json
    from rlsight.explain.faithfulness.report import format_result
    from rlsight.explain.saliency.record import targets_for
    from rlsight.runs import RunDir

    methods = check_methods([m.strip() for m in args.method.split(",") if m.strip()] if args.method else None)
    targets = targets_for(args.target)
    mopts = _method_options(args)
    if args.frames is not None and args.frames < 1:
        from rlsight.errors import RlsightError

        raise RlsightError(f"--frames {args.frames}: must be >= 1")
    from rlsight.shift import apply_shift

    for r in [*args.runs, *([args.other] if args.other else [])]:
        rd = RunDir.open(r)  # every run named, and a bad --set, before the slow part
        if r in args.runs:
            apply_shift(rd.config(), args.env_set, plays="train", levels_option=False)
    if args.json not in (None, "-"):
        from rlsight.runs.atomic import check_new_file

        check_new_file(args.json, "--json", args.overwrite)
    results = []
    for r in args.runs:
        res = check_run(r, methods, targets, other=args.other, frames=args.frames, quick=args.quick,
                        method_options=mopts, device=args.device, env_set=args.env_set)
        results.append(res)
        if args.json != "-":
            print(format_result(res))
    if args.json is not None:
        text = to_json(results[0] if len(results) == 1 else results)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            from rlsight.runs.atomic import atomic_write_text

            atomic_write_text(args.json, text + "\n")
            print(f"wrote {args.json}")
    return 0
