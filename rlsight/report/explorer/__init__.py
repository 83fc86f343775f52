"""Explorer pages of the HTML report: an episode per run (and per pair of runs) to scrub
through, with timelines, bookmarks, saliency overlays and feature maps. See docs/report.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rlsight.report.explorer.options import DEFAULT_METHODS, ExploreOptions, Page

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["DEFAULT_METHODS", "ExploreOptions", "Page", "build_pages", "write_explorer"]


def build_pages(runs: Sequence[tuple[str, Path]], opts: ExploreOptions,
                warn: Callable[[str], None] = lambda m: None) -> list[Page]:
    """Explorer pages for ``runs`` ((label, run directory) pairs); see ``data.build_pages``."""
    from rlsight.report.explorer.data import build_pages as build

    return build(runs, opts, warn)


def write_explorer(folder: Path, page: Page) -> None:
    """Write ``folder/<slug>.html`` and its images under ``folder``."""
    from rlsight.report.explorer.page import render_explorer

    folder.mkdir(exist_ok=True)
    for rel, blob in page.images.items():
        dest = folder / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(blob)
    (folder / f"{page.slug}.html").write_text(render_explorer(page), encoding="utf-8")
