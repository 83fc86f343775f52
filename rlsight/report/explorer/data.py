"""What an explorer page shows, computed: the episode, its timelines and bookmarks, the
saliency overlays per method and target, the faithfulness verdicts, the feature maps.

A run page: the run's model plays the level. A pair page: the first model plays and
both models are shown *its* frames (replay), so that the two models' maps and
timelines compare step for step on the same pixels."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rlsight.config import Config
from rlsight.errors import RlsightError
from rlsight.explain.saliency.methods import MethodOptions, make_method
from rlsight.explain.saliency.render import RenderOptions, normalise, obs_image, overlay, reduce_map
from rlsight.explain.verdicts import Drawn, stored_verdicts
from rlsight.report.explorer.episode import (
    Episode,
    bookmarks,
    bootstrap_value,
    play_episode,
    replay,
    timelines,
)
from rlsight.report.explorer.options import ExploreOptions, Page

TARGETS = ("actor", "critic")
NO_FEATURES = "no features stored (run rlsight features RUN)"
OVERLAY_SIZE = 128
SERIES = ("value", "prob", "entropy", "reward", "advantage")


@dataclass
class Played:
    """A run's label, directory, model, config and the episode it played."""

    label: str
    path: Path
    model: torch.nn.Module
    cfg: Config
    episode: Episode
    step: int = 0  # the model's env step
    written: dict[str, str] = field(default_factory=dict)  # what of its own episode is on disk: key -> folder


def build_pages(runs: Sequence[tuple[str, Path]], opts: ExploreOptions,
                warn: Callable[[str], None] = lambda m: None) -> list[Page]:
    """A page per run that has a model, and one per pair of such runs (same game; at most
    ``opts.max_pairs``, the first run's pairs first)."""
    from rlsight.runs import RunDir
    from rlsight.runs.load import load_policy

    opts.validate()
    loaded = []
    for label, path in runs:
        if not (Path(path) / "model.safetensors").is_file():
            warn(f"explorer: {label}: no model.safetensors, no explorer page")
            continue
        model, cfg, step = load_policy(RunDir.open(path), "cpu")
        loaded.append((label, Path(path), model, cfg, step))
    if not loaded:
        return []
    # every Procgen run plays one level: --explore-level, or the first Procgen run's first held-out
    # level; Atari games have no levels (level 0, as saliency plays them)
    procgen = [c.env for *_, c, _ in loaded if c.env.family == "procgen"]
    level = opts.level if opts.level is not None else (procgen[0].test_levels()[0] if procgen else 0)
    played, pages = [], []
    for i, (label, path, model, cfg, step) in enumerate(loaded):
        lv = level if cfg.env.family == "procgen" else 0
        ep = play_episode(model, cfg.env, cfg.env.game, lv, opts.seed, opts.steps)
        p = Played(label, path, model, cfg, ep, step)
        played.append(p)
        pages.append(page_for(f"run{i}", f"explorer: {label}", [p], [ep], lv, opts))
    pairs = [(a, b) for a in range(len(played)) for b in range(a + 1, len(played))]
    for a, b in pairs:
        pa, pb = played[a], played[b]
        if pa.cfg.env.game != pb.cfg.env.game:
            warn(f"explorer: {pa.label} and {pb.label} play different games; no pair page")
            continue
        if sum(1 for p in pages if p.slug.startswith("pair")) >= opts.max_pairs:
            warn(f"explorer: more than {opts.max_pairs} pairs of runs; pair pages for the first {opts.max_pairs} only")
            break
        shared = [pa.episode, replay(pb.model, pa.episode)]
        lv = level if pa.cfg.env.family == "procgen" else 0
        pages.append(page_for(f"pair{a}-{b}", f"explorer: {pa.label} vs {pb.label}", [pa, pb], shared, lv, opts))
    return pages


def page_for(slug: str, title: str, played: list[Played], episodes: list[Episode], level: int,
             opts: ExploreOptions) -> Page:
    """The page ``slug`` of ``played`` models on ``episodes`` (one each; the first one's frames are shown)."""
    page = Page(slug, title, {})
    frames = episodes[0].obs
    # images of a model's own episode that an earlier page wrote are shared, not written again
    own = played[0].written if episodes[0] is played[0].episode else {}
    frame_dir = own.get("frames") or f"{slug}/f/"
    if "frames" not in own:
        for t, f in enumerate(frames):
            page.images[f"{frame_dir}{t:05d}.webp"] = _webp(obs_image(f), lossless=True)
    runs = []
    for k, (p, ep) in enumerate(zip(played, episodes)):
        ppo = p.cfg.ppo
        series = timelines(ep, ppo.gamma, ppo.gae_lambda, bootstrap_value(p.model, ep))
        done = p.written if ep is p.episode else {}
        overlays = []
        mopts = MethodOptions().for_family(p.cfg.env.family)  # the defaults; Atari: the newest frame of the stack
        for method in opts.methods:
            verdicts = stored_verdicts(p.path, method, None, Drawn(p.step, asdict(mopts)))
            heats = None if all(f"{method}-{t}" in done for t in TARGETS) else saliency(p.model, ep, method, mopts)
            for target in TARGETS:
                d = done.get(f"{method}-{target}") or f"{slug}/r{k}/{method}-{target}/"
                if heats is not None:
                    for t in range(len(frames)):
                        page.images[f"{d}{t:05d}.webp"] = _webp(_overlay(obs_image(frames[t]), heats[target][t]), lossless=False)
                    if ep is p.episode:
                        p.written[f"{method}-{target}"] = d
                overlays.append({"method": method, "target": target, "dir": d,
                                 "verdict": verdicts.get(target, "unchecked")})
        features, note = feature_maps(p.path, p.model, frames)
        runs.append({"label": p.label, "gamma": ppo.gamma, "lambda": ppo.gae_lambda,
                     "series": {k2: _nums(v) for k2, v in series.items()},
                     "actions": [int(a) for a in ep.actions], "overlays": overlays,
                     "features": features, "featuresNote": note,
                     "bookmarks": bookmarks(series["advantage"], opts.bookmarks)})
    if episodes[0] is played[0].episode:
        played[0].written["frames"] = frame_dir
    first = played[0]
    page.data = {"title": title, "game": first.cfg.env.game, "level": level, "seed": opts.seed,
                 "levels": first.cfg.env.family == "procgen", "where": where_played([p.cfg.env for p in played], level, [p.label for p in played]),
                 "steps": len(frames), "ended": bool(episodes[0].done), "maxSteps": opts.steps,
                 "mode": "replay" if len(played) > 1 else "own", "frames": frame_dir, "ext": ".webp",
                 "methods": list(opts.methods), "runs": runs}
    return page


def where_played(envs: list, level: int, labels: list[str]) -> str:
    """What the page's level is to its runs: "held-out level 250", "training level 20", or
    "level 20 (held out for A; a training level of B)"; Atari: the training protocol."""
    if envs[0].family != "procgen":
        return "the training protocol, the newest frame of each 4-frame stack shown"
    trained = [e.nothing_held_out() or e.start_level <= level < e.start_level + e.num_levels for e in envs]
    if not any(trained):
        return f"held-out level {level}"
    if all(trained):
        return f"training level {level}"
    held = [lab for lab, t in zip(labels, trained) if not t]
    train = [lab for lab, t in zip(labels, trained) if t]
    return f"level {level} (held out for {', '.join(held)}; a training level of {', '.join(train)})"


def saliency(model: torch.nn.Module, ep: Episode, method: str, options: MethodOptions) -> dict[str, np.ndarray]:
    """{target: maps (T, 64, 64) in [0, 1], each frame scaled by its maximum} for the
    actions the episode took (actor) and the value (critic)."""
    meth = make_method(method, model, options)
    acts = torch.from_numpy(ep.actions)
    return {t: normalise(reduce_map(meth.attribute(ep.obs, t, acts).cpu(), "max"), "frame").numpy()
            for t in TARGETS}


def feature_maps(run: Path, model: torch.nn.Module, frames: np.ndarray) -> tuple[dict | None, str]:
    """The run's stored features projected on ``frames`` as {k, layer, h, w, labels, data} (data:
    base64 of uint8 (T, k, h, w), each feature scaled by its episode maximum), or None and
    the reason."""
    try:
        from rlsight.explain.features import load_features  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None, NO_FEATURES
    fs = load_features(run)
    if fs is None:
        return None, NO_FEATURES
    maps = np.asarray(fs.project(model, frames), dtype=np.float32)
    if maps.ndim != 4:
        raise RlsightError(f"{run}: stored features projected to shape {maps.shape}; expected (T, k, h, w)")
    peak = np.abs(maps).max(axis=(0, 2, 3), keepdims=True)
    scaled = np.where(peak > 0, np.clip(maps, 0, None) / np.where(peak > 0, peak, 1), 0)
    q = np.round(scaled * 255).astype(np.uint8)
    k = int(maps.shape[1])
    labels = [str(x) for x in getattr(fs, "labels", [])][:k]
    return ({"k": k, "layer": str(fs.layer), "h": int(maps.shape[2]), "w": int(maps.shape[3]),
             "labels": labels + [str(i) for i in range(len(labels), k)],
             "data": base64.b64encode(q.tobytes()).decode("ascii")}, "")


def _overlay(frame: np.ndarray, heat: np.ndarray) -> np.ndarray:
    big = np.asarray(Image.fromarray(frame).resize((OVERLAY_SIZE, OVERLAY_SIZE), Image.Resampling.NEAREST))
    return overlay(big, heat, RenderOptions(color="jet", alpha=0.6))


def _webp(img: np.ndarray, lossless: bool) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "WEBP", lossless=lossless, quality=80 if not lossless else 100, method=4)
    return buf.getvalue()


def _nums(a: np.ndarray) -> list[float]:
    return [float(f"{v:.5g}") for v in np.asarray(a, dtype=np.float64)]
