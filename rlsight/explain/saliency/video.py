"""Writing composed frames: MP4 (H.264), GIF, PNG (one frame or a grid).

Files are written to a temporary name beside the target and renamed into place;
an existing file is replaced only with ``overwrite=True``. The settings that
made a file are stored in it (MP4 ``comment`` tag, GIF comment, PNG text chunk
``rlsight``).
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from rlsight.errors import RlsightError
from rlsight.runs import is_run_dir
from rlsight.runs.atomic import atomic_write
from rlsight.shift import setting_label

FORMATS = (".mp4", ".gif", ".png")
MEDIA_DIR = "saliency"  # RUN/saliency/: a run's saliency videos (the report shows them)


def settings_name(settings: dict, suffix: str = ".mp4") -> str:
    """A file name that records the main settings, e.g.
    ``starpilot-L0-seed0-perturbation-both-stride4-r5-n64.mp4``."""
    s = settings
    method = str(s.get("method", "m")).replace("=", "-").replace(",", "_")  # "actor=M1,critic=M2" per target
    parts = [s.get("game", "game"), f"L{s.get('level', 0)}", f"seed{s.get('seed', 0)}", method,
             s.get("target", "t")]
    if s.get("shift"):  # played under a shift: its label, as evaluation files carry it
        parts.append(setting_label(s["shift"]))
    if s.get("method") == "perturbation":
        parts += [f"stride{s.get('stride')}", f"r{s.get('radius'):g}"]
        if s.get("per_channel"):
            parts.append("perchannel")
    if len(s.get("runs", [])) > 1:
        parts.append(s.get("mode", "own"))
    parts += [s.get("color", "red"), f"n{s.get('frames', 0)}"]
    return "-".join(str(p) for p in parts) + suffix


def resolve_output(out: str | Path | None, settings: dict, overwrite: bool = False,
                   default_suffix: str = ".mp4") -> Path:
    """The file to write: ``out`` itself, or a settings-named file inside ``out``
    when it is an existing folder (or the current folder when ``out`` is None). A run's
    ``RUN/saliency/`` folder is made when missing.

    Raises RlsightError for a missing folder, an unknown extension or an existing
    file without ``overwrite``.
    """
    p = Path(out) if out is not None else Path(".")
    media = next((f for f in (p, p.parent) if f.name == MEDIA_DIR and is_run_dir(f.parent)), None)
    if media is not None and not media.exists() and (media == p or p.suffix.lower() in FORMATS):
        media.mkdir()  # RUN/saliency/, where reports and trackers look for a run's videos
    if p.is_dir():
        p = p / settings_name(settings, default_suffix)
    if p.suffix.lower() not in FORMATS:
        raise RlsightError(f"output {p}: unknown format {p.suffix or '(none)'!r}; valid: {', '.join(FORMATS)}")
    if not p.parent.is_dir():
        raise RlsightError(f"output {p}: folder {p.parent} does not exist")
    if p.exists() and not overwrite:
        raise RlsightError(f"output {p} already exists; pass --overwrite to replace it, or choose another name")
    return p


def grid(frames: np.ndarray, cols: int | None = None, gap: int = 4) -> np.ndarray:
    """(T, H, W, 3) -> one image, ``cols`` frames per row (default about square)."""
    t, h, w, _ = frames.shape
    cols = cols or math.ceil(math.sqrt(t))
    rows = math.ceil(t / cols)
    out = np.zeros((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, cols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = f
    return out


def write_frames(path: str | Path, frames: np.ndarray | Sequence[np.ndarray], fps: float = 15.0,
                 settings: dict | None = None, overwrite: bool = False, grid_cols: int | None = None) -> Path:
    """Write (T, H, W, 3) uint8 frames as MP4, GIF or PNG (a grid when T > 1)."""
    path = Path(path)
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise RlsightError(f"expected frames of shape (T, H, W, 3), got {frames.shape}")
    if fps <= 0:
        raise RlsightError(f"fps {fps}: must be > 0")
    resolve_output(path, settings or {}, overwrite)
    comment = json.dumps(settings or {}, sort_keys=True, default=str)
    suffix = path.suffix.lower()

    def write(tmp: Path) -> None:
        if suffix == ".mp4":
            _write_mp4(tmp, frames, fps, comment)
        elif suffix == ".gif":
            imgs = [Image.fromarray(f) for f in frames]
            imgs[0].save(tmp, save_all=True, append_images=imgs[1:], duration=int(round(1000 / fps)), loop=0,
                         comment=comment.encode())
        else:
            img = frames[0] if len(frames) == 1 else grid(frames, grid_cols)
            info = PngImagePlugin.PngInfo()
            info.add_text("rlsight", comment)
            Image.fromarray(img).save(tmp, pnginfo=info)

    def still_free() -> None:
        if path.exists() and not overwrite:  # appeared while we worked
            raise RlsightError(f"output {path} already exists; pass --overwrite to replace it")

    # the real suffix: ffmpeg and PIL choose the format by it; outputs get ordinary permissions
    atomic_write(path, write, suffix=suffix, ordinary_permissions=True, before_replace=still_free, point="video")
    return path


def _write_mp4(path: Path, frames: np.ndarray, fps: float, comment: str) -> None:
    import warnings

    with warnings.catch_warnings():  # imageio-ffmpeg 0.3 imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import imageio_ffmpeg

    t, h, w, _ = frames.shape
    if h % 2 or w % 2:  # yuv420p needs even sides
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
        h, w = frames.shape[1:3]
    # ffmpeg's own messages stay quiet: a failure is told in one line below
    gen = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, codec="libx264", quality=7,
                                      macro_block_size=1, ffmpeg_log_level="fatal", ffmpeg_timeout=0,
                                      output_params=["-metadata", f"comment={comment}"])
    stopped = False
    try:
        gen.send(None)
        for f in frames:
            gen.send(np.ascontiguousarray(f))
    except OSError as e:  # ffmpeg stopped reading frames (imageio-ffmpeg's multi-line IOError)
        if e.errno is not None:
            raise
        stopped = True
    finally:
        gen.close()
    # imageio-ffmpeg does not check ffmpeg's exit status: a full disk left a truncated file
    if stopped or not mp4_complete(path):
        if shutil.disk_usage(path.parent).free < FULL_DISK_FREE_BYTES:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        raise RlsightError(f"{path}: ffmpeg could not write the video (the file is incomplete)")


# below this much free space, an incomplete video is put down to a full disk
FULL_DISK_FREE_BYTES = 1 << 20


def mp4_complete(path: Path) -> bool:
    """Whether ``path`` is a whole MP4 file: top-level boxes that end exactly at the end of
    the file, with the ``moov`` box that ffmpeg writes last."""
    size = path.stat().st_size
    seen, pos = set(), 0
    with open(path, "rb") as f:
        while pos < size:
            f.seek(pos)
            head = f.read(16)
            if len(head) < 8:
                return False
            n, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if n == 1 and len(head) == 16:
                n = int.from_bytes(head[8:16], "big")
            elif n == 0:
                n = size - pos  # the box runs to the end of the file
            if n < 8 or pos + n > size:
                return False
            seen.add(kind)
            pos += n
    return b"moov" in seen and b"mdat" in seen
