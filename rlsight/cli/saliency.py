"""rlsight saliency and rlsight saliency-check."""

from __future__ import annotations

import argparse

METHOD_HELP = "perturbation, gradient, smoothgrad, integrated-gradients or gradcam"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--game", default=None, help="Procgen game (default: the run's)")
    p.add_argument("--level", type=int, default=0, help="level to play (start_level; default 0)")
    p.add_argument("--seed", type=int, default=0, help="environment and action-sampling seed (default 0)")
    p.add_argument("--method", default="perturbation", help=f"{METHOD_HELP} (default perturbation)")
    p.add_argument("--stride", type=int, default=4, help="perturbation: grid spacing in pixels (default 4)")
    p.add_argument("--radius", type=float, default=5.0, help="perturbation: mask radius in pixels (default 5)")
    p.add_argument("--blur-sigma", type=float, default=3.0, help="perturbation: sigma of the blurred frame (default 3)")
    p.add_argument("--per-channel", action="store_true", help="perturbation: perturb each colour channel on its own")
    p.add_argument("--samples", type=int, default=16, help="smoothgrad: noisy copies; integrated-gradients: steps (default 16)")
    p.add_argument("--noise", type=float, default=0.1, help="smoothgrad: noise std on [0, 1] frames (default 0.1)")
    p.add_argument("--chunk", type=int, default=None, help="inputs per forward pass (default: the fastest of 32-256 measured on a CPU, 2048 on a GPU)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")


def register(sub) -> None:
    p = sub.add_parser("saliency", help="saliency video or image of one or more runs",
                       description="Play a level and draw where the policy (actor) and the value (critic) look. "
                                   "Several runs go side by side on the same level and seed.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (imported original-project checkpoints work)")
    _common(p)
    p.add_argument("--frames", type=int, default=32, help="frames to draw (default 32)")
    p.add_argument("--start", type=int, default=0, help="steps to play before the first drawn frame (default 0)")
    p.add_argument("--target", default="both", help="actor, critic or both (default both)")
    p.add_argument("--mode", default="own", help="several runs: 'own' (each plays its own episode; default) or "
                                                 "'replay' (every model sees the first run's trajectory)")
    p.add_argument("--greedy", action="store_true", help="take the most likely action instead of sampling")
    p.add_argument("--out", default=None, help="output .mp4, .gif or .png (a grid when --frames > 1), or a folder "
                                               "for a name made from the settings (default: current folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--fps", type=float, default=15.0, help="frames per second of a video (default 15)")
    p.add_argument("--color", default="red", help="red, green, blue (add to that channel) or a matplotlib "
                                                  "colour map such as jet or inferno (default red)")
    p.add_argument("--intensity", type=float, default=1.0, help="channel overlay strength (default 1)")
    p.add_argument("--alpha", type=float, default=0.6, help="colour-map overlay opacity at the map's peak (default 0.6)")
    p.add_argument("--sigma", type=float, default=0.0, help="Gaussian smoothing of the map, in 64x64 pixels (default 0)")
    p.add_argument("--reduce", default="max", help="over colour channels of a map: mean or max (default max)")
    p.add_argument("--normalize", default="frame", help="scale maps per frame or per video (default frame)")
    p.add_argument("--background", default="render", help="render (512x512 frame) or obs (64x64 observation)")
    p.add_argument("--size", type=int, default=384, help="tile side in pixels, a multiple of 16 (default 384)")
    p.add_argument("--no-panel", action="store_true", help="leave out the side panel (step, action, probabilities, value)")
    p.add_argument("--grid-cols", type=int, default=None, help="PNG grid: frames per row")
    p.set_defaults(func=run)

    c = sub.add_parser("saliency-check", help="model-randomisation sanity check of a saliency method",
                       description="Spearman rank correlation between maps of the trained model and of the same "
                                   "architecture re-initialised (Adebayo et al. 2018). Near 1: the maps do not "
                                   "depend on what the model learned.")
    c.add_argument("run", help="run directory")
    _common(c)
    c.add_argument("--frames", type=int, default=8, help="frames to compare (default 8)")
    c.add_argument("--start", type=int, default=0, help="steps to play before the first frame (default 0)")
    c.add_argument("--target", default="both", help="actor, critic or both (default both)")
    c.set_defaults(func=check)


def _method_options(args: argparse.Namespace):
    from rlsight.explain.saliency.methods import MethodOptions

    return MethodOptions(stride=args.stride, radius=args.radius, blur_sigma=args.blur_sigma,
                         per_channel=args.per_channel, samples=args.samples, noise=args.noise,
                         chunk=args.chunk, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    from rlsight.config import GAMES
    from rlsight.explain.saliency.methods import METHODS, check_choice
    from rlsight.explain.saliency.record import MODES, record, targets_for
    from rlsight.explain.saliency.render import RenderOptions
    from rlsight.explain.saliency.video import resolve_output, write_frames
    from rlsight.runs import RunDir

    ropts = RenderOptions(color=args.color, intensity=args.intensity, alpha=args.alpha, sigma=args.sigma,
                          reduce=args.reduce, normalize=args.normalize, background=args.background,
                          size=args.size, panel=not args.no_panel).validate()
    check_choice("method", args.method, METHODS)
    targets_for(args.target)
    check_choice("mode", args.mode, MODES)
    if args.game is not None:
        check_choice("game", args.game, GAMES)
    game = args.game or RunDir.open(args.runs[0]).config().env.game
    pre = {"runs": args.runs, "game": game, "level": args.level, "seed": args.seed,
           "method": args.method, "target": args.target, "stride": args.stride, "radius": args.radius,
           "per_channel": args.per_channel, "mode": args.mode, "color": args.color, "frames": args.frames}
    out = resolve_output(args.out, pre, args.overwrite)  # fail before the slow part
    res = record(args.runs, game=args.game, level=args.level, frames=args.frames, method=args.method,
                 target=args.target, mode=args.mode, seed=args.seed, start=args.start, greedy=args.greedy,
                 device=args.device, method_options=_method_options(args), render=ropts)
    path = write_frames(out, res.frames, fps=args.fps, settings=res.settings, overwrite=args.overwrite,
                        grid_cols=args.grid_cols)
    h, w = res.frames.shape[1:3]
    print(f"{path}: {len(res.frames)} frame(s) of {w}x{h}, {args.method} on {res.settings['game']} "
          f"level {args.level}, {', '.join(res.labels)}")
    return 0


def check(args: argparse.Namespace) -> int:
    from rlsight.explain.faithfulness.randomisation import randomisation_check
    from rlsight.explain.saliency.methods import METHODS, check_choice
    from rlsight.explain.saliency.record import level_env, load_models, play, targets_for

    check_choice("method", args.method, METHODS)
    targets = targets_for(args.target)
    (label, model, cfg), = load_models([args.run], args.device)
    env_cfg = level_env(cfg.env, args.game or cfg.env.game, args.level)
    traj = play(model, env_cfg, args.frames, seed=args.seed, start=args.start)
    r = randomisation_check(model, traj.obs, args.method, targets, _method_options(args), seed=args.seed)
    print(f"{label}: {args.method} maps, trained vs re-initialised weights, Spearman rank correlation "
          f"over {args.frames} frames of {env_cfg.game} level {args.level} (1 = same ranking)")
    for t in targets:
        vals = " ".join(f"{v:.2f}" for v in r.per_frame[t])
        verdict = ("low: the maps depend on the learned weights" if r.mean[t] < 0.5 else
                   "moderate" if r.mean[t] < 0.8 else
                   "high: the maps follow the image more than the learned weights")
        print(f"  {t}: mean {r.mean[t]:.3f}  [{vals}]  {verdict}")
    return 0
