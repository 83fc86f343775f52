"""Play a level, compute saliency maps, compose frames: one model or several side by side.

Two comparison modes, both on the same level and environment seed:

- ``own``: every model plays its own episode from the same start;
- ``replay``: the first model plays and every model is shown the same
  observations, so that the maps compare pixel for pixel.

``record(...)`` returns maps and composed frames as arrays (for notebooks);
``rlsight saliency`` writes them with ``video.write_frames``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch

from rlsight.config import Config, EnvConfig
from rlsight.config.schema import Game
from rlsight.errors import RlsightError
from rlsight.explain.saliency.methods import (
    MethodOptions,
    check_choice,
    make_method,
    methods_by_target,
)
from rlsight.explain.saliency.options import PLAY
from rlsight.explain.saliency.perturbation import TARGETS
from rlsight.explain.saliency.render import (
    ModelFrame,
    RenderOptions,
    background,
    compose,
    normalise,
    reduce_map,
)
from rlsight.explain.verdicts import Drawn, targets_caption
from rlsight.models.sampling import sample_actions
from rlsight.shift import apply_shift

if TYPE_CHECKING:
    from rlsight.models.policy import ActorCritic

MODES = ("own", "replay")
TARGET_CHOICES = ("actor", "critic", "both")


def targets_for(target: str) -> tuple[str, ...]:
    """The targets that ``target`` ("actor", "critic" or "both") stands for."""
    check_choice("target", target, TARGET_CHOICES)
    return TARGETS if target == "both" else (target,)


@dataclass
class Trajectory:
    """What one model saw and did: obs (T, 64, 64, 3) uint8, renders (T, 512, 512, 3)
    uint8, actions (T,), probs (T, A), values (T,), first (T,) episode starts."""

    obs: np.ndarray
    renders: np.ndarray
    actions: np.ndarray
    probs: np.ndarray
    values: np.ndarray
    first: np.ndarray


@dataclass
class SaliencyResult:
    """Maps per model and target (T, C, 64, 64) and the composed frames (T, H, W, 3)."""

    labels: list[str]
    targets: tuple[str, ...]
    maps: list[dict[str, torch.Tensor]]
    trajectories: list[Trajectory]  # one per model (replay: the shared one, with each model's probs/values)
    frames: np.ndarray
    settings: dict = field(default_factory=dict)


def load_models(runs: Sequence[str | Path], device: str = "cpu") -> list[tuple[str, ActorCritic, Config, int]]:
    """(label, model, config, model step) per run; a run that cannot be loaded raises RlsightError naming it."""
    from rlsight.runs import RunDir
    from rlsight.runs.load import load_policy

    out = []
    for r in runs:
        rd = RunDir.open(r)  # names the folder when it is not a run
        try:
            model, cfg, step = load_policy(rd, device)
        except RlsightError:
            raise
        except Exception as e:  # anything else: say which file
            f = rd.path / "model.safetensors"
            raise RlsightError(f"{f}: the model cannot be loaded ({type(e).__name__}: {e})") from None
        out.append((rd.name, model, cfg, step))
    names = [n for n, *_ in out]
    if len(set(names)) < len(names):  # same folder name twice: use the paths
        out = [(str(Path(r)), m, c, step) for r, (_, m, c, step) in zip(runs, out)]
    return out


def check_game(env_cfg: EnvConfig, game: str) -> None:
    """Refuse a ``game`` the run's family lacks, or one whose action space differs from the
    run's game (Atari's minimal action sets: a Pong model has no meaning in Breakout)."""
    from rlsight.envs import family_of

    family = family_of(env_cfg)
    check_choice("game", game, tuple(family.games))
    own, other = family.names_of_actions(env_cfg.game), family.names_of_actions(game)
    if own != other:
        raise RlsightError(f"game {game!r}: its actions ({', '.join(other)}) are not those of the run's "
                           f"{env_cfg.game} ({', '.join(own)}); a model plays only games with its own action set")


def level_env(env_cfg: EnvConfig, game: str, level: int) -> EnvConfig:
    """The run's environment settings on one level of ``game`` (Atari has no levels: level 0 only)."""
    check_game(env_cfg, game)
    if level < 0:
        raise RlsightError(f"level {level}: must be >= 0")
    if env_cfg.family == "atari":
        if level != 0:
            raise RlsightError(f"level {level}: Atari games have no levels; leave --level out (--seed picks the game's start)")
        return dataclasses.replace(env_cfg, game=game)
    return dataclasses.replace(env_cfg, game=cast(Game, game), start_level=level, num_levels=1)


def play(model: torch.nn.Module, env_cfg: EnvConfig, frames: int, seed: int = 0, start: int = 0,
         greedy: bool = False) -> Trajectory:
    """Run ``start + frames`` steps on a single environment and keep the last ``frames``."""
    from rlsight.envs import make_env

    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    env = make_env(env_cfg, "train", 1, seed=seed, render=True)
    rec: dict[str, list] = {k: [] for k in ("obs", "renders", "actions", "probs", "values", "first")}
    try:
        _, obs, first = env.observe()
        for t in range(start + frames):
            with torch.inference_mode():
                logits, value = model(torch.from_numpy(obs).to(device))
            probs = torch.softmax(logits.float(), -1).cpu()
            a = probs.argmax(-1) if greedy else sample_actions(logits.float().cpu(), generator=gen)  # CPU generator
            if t >= start:
                rec["obs"].append(obs[0].copy())
                rec["renders"].append(env.info()[0]["rgb"].copy())
                rec["actions"].append(int(a[0]))
                rec["probs"].append(probs[0].numpy())
                rec["values"].append(float(value[0]))
                rec["first"].append(bool(first[0]))
            _, obs, first = env.step(a.numpy())
    finally:
        env.close()
    return Trajectory(*(np.asarray(rec[k]) for k in ("obs", "renders", "actions", "probs", "values", "first")))


def policy_outputs(model: torch.nn.Module, obs: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(probs (T, A), values (T,)) of ``model`` on given observations."""
    device = next(model.parameters()).device
    ps, vs = [], []
    with torch.inference_mode():
        for s in range(0, len(obs), chunk):
            logits, value = model(torch.from_numpy(obs[s:s + chunk]).to(device))
            ps.append(torch.softmax(logits.float(), -1).cpu())
            vs.append(value.float().cpu())
    return torch.cat(ps).numpy(), torch.cat(vs).numpy()


def heat_maps(maps: list[dict[str, torch.Tensor]], targets: Sequence[str], ropts: RenderOptions) -> list[dict[str, np.ndarray]]:
    """Per model {target: (T, H, W) in [0, 1]}: reduced over channels, smoothed, and scaled by
    each frame's peak, or (``normalize = "video"``) by one peak per target over every model's
    frames, so that brightness compares across frames and models."""
    reduced = [{t: reduce_map(mm[t], ropts.reduce, ropts.sigma) for t in targets} for mm in maps]
    if ropts.normalize != "video":
        return [{t: normalise(r[t], ropts.normalize).numpy() for t in targets} for r in reduced]
    scaled = {t: normalise(torch.cat([r[t] for r in reduced]), "video").split([len(r[t]) for r in reduced])
              for t in targets}  # the models' frames together: one peak
    return [{t: scaled[t][k].numpy() for t in targets} for k in range(len(reduced))]


def record(runs: Sequence[str | Path], game: str | None = None, level: int = PLAY.level, frames: int = PLAY.frames,
           method: str = PLAY.method, target: str = PLAY.target, mode: str = PLAY.mode, seed: int = PLAY.seed,
           start: int = PLAY.start, greedy: bool = PLAY.greedy, device: str = PLAY.device,
           method_options: MethodOptions | None = None, render: RenderOptions | None = None,
           env_set: Sequence[str] | None = None) -> SaliencyResult:
    """Play ``frames`` steps of ``game`` level ``level`` and return maps and composed frames.
    ``method`` is one method for every target or one per target (``methods_by_target``).
    ``env_set`` plays under a distribution shift, as ``rlsight evaluate --set`` does
    (``["env.difficulty=1"]``; the family's keys in ``rlsight.shift.SHIFT_KEYS``)."""
    check_choice("mode", mode, MODES)
    targets = targets_for(target)
    by_target = methods_by_target(method, targets)
    if not runs:
        raise RlsightError("no runs given")
    if frames < 1 or start < 0:
        raise RlsightError(f"frames {frames}, start {start}: need frames >= 1 and start >= 0")
    ropts = (render or RenderOptions()).validate()
    mopts = method_options or MethodOptions()
    if mopts.stride < 1 or mopts.radius <= 0 or mopts.blur_sigma < 0:
        raise RlsightError("stride must be >= 1, radius > 0 and blur sigma >= 0")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RlsightError(f"device {device!r}: no CUDA GPU is available; use --device cpu")
    models = load_models(runs, device)
    if game is None:
        games = sorted({c.env.game for _, _, c, _ in models})
        if len(games) > 1:
            raise RlsightError(f"the runs were trained on different games ({', '.join(games)}); pass --game")
        game = games[0]
    env_cfg = level_env(models[0][2].env, game, level)
    base, shift = apply_shift(dataclasses.replace(models[0][2], env=env_cfg), list(env_set or []),
                              plays="train", levels_option=False)  # play() uses the train split; flavours checked for ``game``
    env_cfg = base.env
    mopts = mopts.for_family(env_cfg.family)  # Atari: the newest frame of the stack

    trajs: list[Trajectory] = []
    if mode == "own":
        trajs = [play(m, env_cfg, frames, seed, start, greedy) for _, m, _, _ in models]
    else:
        ref = play(models[0][1], env_cfg, frames, seed, start, greedy)
        for i, (_, m, _, _) in enumerate(models):
            probs, values = (ref.probs, ref.values) if i == 0 else policy_outputs(m, ref.obs)
            trajs.append(dataclasses.replace(ref, probs=probs, values=values))

    maps = []
    for (_, m, _, _), tr in zip(models, trajs):
        acts = torch.from_numpy(tr.actions) if mode == "own" else None
        per_model: dict[str, torch.Tensor] = {}
        for name in dict.fromkeys(by_target.values()):  # a method's targets in one call (shared passes)
            todo = tuple(t for t in targets if by_target[t] == name)
            per_model.update((t, v.cpu()) for t, v in make_method(name, m, mopts).attribute_all(tr.obs, todo, acts).items())
        maps.append({t: per_model[t] for t in targets})

    heats = heat_maps(maps, targets, ropts)
    from rlsight.envs import family_of

    labels = [n for n, *_ in models]
    # a run's stored verdicts hold for its own game and setting: on another game, or under a shift, say so
    captions = [targets_caption(by_target, r, {**shift, **({"game": game} if game != c.env.game else {})},
                                Drawn(step, dataclasses.asdict(mopts)))
                for r, (_, _, c, step) in zip(runs, models)]
    names = family_of(env_cfg).names_of_actions(game)
    out = []
    for i in range(frames):
        parts = []
        for k, (label, tr) in enumerate(zip(labels, trajs)):
            note = "replay" if mode == "replay" and k > 0 else ("new episode" if tr.first[i] else "")
            parts.append(ModelFrame(label, background(tr.renders[i], tr.obs[i], ropts),
                                    {t: heats[k][t][i] for t in targets}, start + i, int(tr.actions[i]),
                                    tr.probs[i], float(tr.values[i]), note, captions[k], names))
        out.append(compose(parts, targets, ropts))
    settings = {"runs": [str(r) for r in runs], "game": game, "level": level, "shift": shift, "frames": frames, "seed": seed,
                "start": start, "greedy": greedy, "method": method, "target": target, "mode": mode,
                "captions": captions, **dataclasses.asdict(mopts), **dataclasses.asdict(ropts)}
    return SaliencyResult(labels, targets, maps, trajs, np.stack(out), settings)
