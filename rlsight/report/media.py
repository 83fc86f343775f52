"""Saliency videos that runs carry under ``RUN/saliency/`` (mp4, webm or gif)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif")
SALIENCY_DIR = "saliency"
MAX_PER_RUN = 12


@dataclass
class Video:
    """A saliency video of one run, and where the report copies it."""

    run: str        # run label
    name: str       # path relative to RUN/saliency/
    source: Path    # the file in the run
    target: str     # path relative to the report folder

    @property
    def is_gif(self) -> bool:
        """Whether the video is a GIF (shown as an image, not a video element)."""
        return self.source.suffix.lower() == ".gif"


def find_videos(run_index: int, run_label: str, run_path: Path) -> list[Video]:
    """Videos under ``run_path/saliency`` (newest names sorted), with safe file names for the copy."""
    root = run_path / SALIENCY_DIR
    if not root.is_dir():
        return []
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    return [Video(run_label, str(p.relative_to(root)), p, f"media/run{run_index}/{j}{p.suffix.lower()}")
            for j, p in enumerate(files[:MAX_PER_RUN])]
