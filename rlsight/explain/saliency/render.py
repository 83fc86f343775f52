"""Saliency overlays and frame composition (arrays in, uint8 RGB arrays out).

An overlay adds a map, upsampled to the background frame, either to one colour
channel of the frame (``red``/``green``/``blue``, scaled by ``intensity``, the
original's style) or as a matplotlib colour map blended with opacity
``alpha * map``. Composed frames put, per model, a label, the actor and/or
critic tiles and a side panel (step, action, action probabilities, value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from rlsight.explain.saliency.options import (  # noqa: F401  (re-exported)
    BACKGROUNDS,
    CHANNEL_COLORS,
    CMAP_EXAMPLES,
    NORMALIZATIONS,
    REDUCTIONS,
    RenderOptions,
)
from rlsight.explain.saliency.perturbation import gaussian_blur

_BG = (24, 24, 28)
_FG = (235, 235, 235)
_BAR = (90, 160, 240)
_TAKEN = (250, 180, 60)


def reduce_map(maps: torch.Tensor, how: str = "max", sigma: float = 0.0) -> torch.Tensor:
    """(N, C, H, W) -> (N, H, W): mean or max over channels, then optional smoothing."""
    m = maps.float().mean(1) if how == "mean" else maps.float().amax(1)
    if sigma > 0:
        m = gaussian_blur(m.unsqueeze(1), sigma).squeeze(1)
    return m.clamp_min(0)


def normalise(maps: torch.Tensor, how: str = "frame") -> torch.Tensor:
    """(N, H, W) -> [0, 1], by each frame's maximum or by the maximum of all frames."""
    if how == "frame":
        peak = maps.flatten(1).amax(1).view(-1, 1, 1)
    else:
        peak = maps.max().view(1, 1, 1)
    return maps / peak.clamp_min(1e-20)


def obs_image(obs: np.ndarray) -> np.ndarray:
    """The image of an observation: an RGB frame as it is; a stack of grey frames (Atari)
    as its newest frame in grey."""
    return obs if obs.shape[-1] == 3 else np.repeat(obs[..., -1:], 3, axis=-1)


def background(render: np.ndarray | None, obs: np.ndarray, opts: RenderOptions) -> np.ndarray:
    """The tile's background, (size, size, 3) uint8."""
    if opts.background == "render" and render is not None:
        img = Image.fromarray(render).resize((opts.size, opts.size), Image.Resampling.BILINEAR)
    else:
        img = Image.fromarray(obs_image(obs)).resize((opts.size, opts.size), Image.Resampling.NEAREST)
    return np.asarray(img)


def overlay(frame: np.ndarray, heat: torch.Tensor | np.ndarray, opts: RenderOptions) -> np.ndarray:
    """Draw one normalised map (h, w) in [0, 1] over ``frame`` (H, W, 3) uint8."""
    h, w = frame.shape[:2]
    t = torch.as_tensor(heat, dtype=torch.float32)[None, None]
    m = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0, 0].clamp(0, 1).numpy()
    out = frame.astype(np.float32)
    if opts.color in CHANNEL_COLORS:
        c = CHANNEL_COLORS.index(opts.color)
        out[..., c] += 255.0 * opts.intensity * m
    else:
        rgb = _cmap(opts.color)(m)[..., :3] * 255.0
        a = (opts.alpha * m)[..., None]
        out = out * (1 - a) + rgb * a
    return out.clip(0, 255).astype(np.uint8)


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]


@lru_cache(maxsize=16)
def _font(px: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=px)
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def round16(x: float) -> int:
    """``x`` (truncated to an int) rounded up to a multiple of 16."""
    return int(-(-int(x) // 16) * 16)


def header_height(size: int) -> int:
    """Height of the title strip above a block of ``size``-pixel tiles."""
    return round16(max(16, size // 12))


def panel_width(size: int) -> int:
    """Width of the side panel next to ``size``-pixel tiles."""
    return round16(max(160, size * 0.55))


def layout_size(n_models: int, n_targets: int, opts: RenderOptions) -> tuple[int, int]:
    """(height, width) of a composed frame; both are multiples of 16 (H.264-friendly)."""
    block_w = n_targets * opts.size + (panel_width(opts.size) if opts.panel else 0)
    return header_height(opts.size) + opts.size, n_models * block_w


def label_tile(tile: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``tile`` (H, W, 3) uint8 with ``text`` on a black box in its top-left corner."""
    img = Image.fromarray(tile)
    d = ImageDraw.Draw(img)
    f = _font(max(9, tile.shape[0] // 24))
    x0, y0, x1, y1 = d.textbbox((4, 3), text, font=f)
    d.rectangle((x0 - 3, y0 - 2, x1 + 3, y1 + 2), fill=(0, 0, 0))
    d.text((4, 3), text, fill=_FG, font=f)
    return np.asarray(img)


def side_panel(height: int, width: int, step: int, action: int, probs: np.ndarray, value: float,
               note: str = "", names: Sequence[str] = ()) -> np.ndarray:
    """Text and bars: step, action taken, value, and the action probabilities, each action
    by its name in ``names`` (the game's; its index where there is none)."""
    img = Image.new("RGB", (width, height), _BG)
    d = ImageDraw.Draw(img)
    rows = 4 + len(probs)
    lh = height / rows
    f = _font(max(7, min(18, int(lh * 0.8))))
    def name(a: int) -> str:
        return names[a] if 0 <= a < len(names) else str(a)

    lines = [f"step {step}", f"action {name(action)}", f"value {value:.3f}", note]
    for i, t in enumerate(lines):
        d.text((6, i * lh + 1), t, fill=_FG, font=f)
    label_w = int(width * 0.42)
    bar_w = width - label_w - 10
    for a, p in enumerate(probs):
        y = (4 + a) * lh
        col = _TAKEN if a == action else _BAR
        d.text((6, y), name(a), fill=col, font=f)
        d.rectangle((label_w, y + lh * 0.15, label_w + max(1, int(bar_w * float(p))), y + lh * 0.85), fill=col)
    return np.asarray(img)


def header(width: int, height: int, text: str) -> np.ndarray:
    """A title bar; the font shrinks (down to 7 px) until ``text`` fits the width."""
    img = Image.new("RGB", (width, height), _BG)
    d = ImageDraw.Draw(img)
    px = max(9, int(height * 0.7))
    while px > 7 and d.textlength(text, font=_font(px)) > width - 12:
        px -= 1
    d.text((6, max(0, height // 2 - px // 2)), text, fill=_FG, font=_font(px))
    return np.asarray(img)


@dataclass
class ModelFrame:
    """What one model contributes to one composed frame."""

    label: str
    background: np.ndarray  # (size, size, 3) uint8
    heats: dict[str, np.ndarray]  # target -> normalised map (h, w) in [0, 1]
    step: int
    action: int
    probs: np.ndarray
    value: float
    note: str = ""
    caption: str = ""  # the method and its stored faithfulness verdict (or "unchecked")
    action_names: Sequence[str] = ()  # the game's actions (EnvFamily.names_of_actions)


def compose(models: Sequence[ModelFrame], targets: Sequence[str], opts: RenderOptions) -> np.ndarray:
    """One video frame: per model a labelled block of target tiles and a side panel."""
    blocks: list[np.ndarray] = []
    for mf in models:
        tiles = [label_tile(overlay(mf.background, mf.heats[t], opts), t) for t in targets]
        if opts.panel:
            tiles.append(side_panel(opts.size, panel_width(opts.size), mf.step, mf.action, mf.probs,
                                    mf.value, mf.note, mf.action_names))
        row = np.concatenate(tiles, axis=1)
        title = f"{mf.label} | {mf.caption}" if mf.caption else mf.label
        top = header(row.shape[1], header_height(opts.size), title)
        block = np.concatenate([top, row], axis=0)
        if blocks:  # a thin separator between models
            block = block.copy()
            block[:, :2] = _BG
        blocks.append(block)
    out = np.concatenate(blocks, axis=1)
    assert out.shape[:2] == layout_size(len(models), len(targets), opts)
    return np.ascontiguousarray(out)
