"""Explorer page for a 1,000-step episode: its size on disk, the time to build it, and
the time it takes to open in headless Chromium.

    python benchmarks/explorer.py RUN                      # RUN: a run directory with a model
    python benchmarks/explorer.py RUN --steps 1000 --opens 3 --write BENCHMARKS.md

The model plays the run's first held-out level for exactly ``--steps`` steps (through
episode ends, so that the page always has that many frames), with the default
saliency methods (gradient and integrated gradients, actor and critic). Size: the page
and its folder of images. Open time: from navigation to the page's ``data-ready``
mark (data parsed, filmstrip, bookmarks and the five uPlot timelines drawn, first
frame set) and to the load event (every image the page shows loaded), each open in a
fresh headless Chromium with a fresh profile; the slowest of ``--opens`` is reported.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rlsight.bench import hardware, write_section
from rlsight.report import (
    ASSETS,
    STATIC,
    VENDOR,
    ExploreOptions,
    Played,
    page_for,
    play_episode,
    write_explorer,
)
from rlsight.runs import RunDir, load_policy


def build(run: Path, out: Path, steps: int, seed: int) -> tuple[float, float, int]:
    """Write the page under ``out/explore``; (seconds to play, seconds for the rest, steps)."""
    model, cfg, _ = load_policy(RunDir.open(run), "cpu")
    level = cfg.env.test_levels()[0]
    opts = ExploreOptions(level=level, seed=seed, steps=steps).validate()
    t0 = time.perf_counter()
    ep = play_episode(model, cfg.env, cfg.env.game, level, seed, steps, stop_at_end=False)
    t1 = time.perf_counter()
    page = page_for("run0", f"explorer: {run.name}", [Played(run.name, run, model, cfg, ep)], [ep], level, opts)
    (out / "assets").mkdir(parents=True)
    for name in ASSETS:
        shutil.copyfile(STATIC / name, out / "assets" / name)
    shutil.copytree(STATIC / VENDOR, out / "assets" / VENDOR)
    (out / "index.html").write_text("<!doctype html><title>report</title>")
    write_explorer(out / "explore", page)
    return t1 - t0, time.perf_counter() - t1, len(ep.actions)


def size_mb(out: Path) -> float:
    """MB of the page, its images and the assets it loads."""
    files = [out / "explore" / "run0.html", *(out / "explore" / "run0").rglob("*"), *(out / "assets").rglob("*")]
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def open_times(page: Path, opens: int) -> list[tuple[float, float]]:
    """(ms to data-ready, ms to the load event) per open, each in a fresh browser."""
    import importlib.util  # the browser driver of the report's browser tests (tests/), loaded from its file

    spec = importlib.util.spec_from_file_location(
        "report_browser", Path(__file__).resolve().parent.parent / "tests" / "test_report_browser.py")
    assert spec is not None and spec.loader is not None
    browser = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(browser)
    Browser, need_chromium = browser.Browser, browser.need_chromium

    exe = need_chromium()
    out = []
    for _ in range(opens):
        with tempfile.TemporaryDirectory() as profile:
            b = Browser(exe, Path(profile))
            try:
                b.call("Page.navigate", {"url": page.resolve().as_uri()}, session=True)
                b.wait_for("document.readyState === 'complete' && document.body.dataset.ready === '1'", timeout=60)
                ready = b.evaluate("+document.body.dataset.readyMs")
                load = b.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
                out.append((float(ready), float(load)))
            finally:
                b.close()
    return out


def main() -> None:
    """Build the page, measure it, print (and optionally write) the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opens", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the page here (kept) instead of a temporary folder")
    ap.add_argument("--write", type=Path, help="add the figures to this BENCHMARKS.md")
    args = ap.parse_args()
    tmp = None
    if args.keep:
        out = args.keep
    else:
        tmp = tempfile.TemporaryDirectory()
        out = Path(tmp.name) / "report"
    play_s, build_s, steps = build(args.run, out, args.steps, args.seed)
    mb = size_mb(out)
    files = sum(1 for f in (out / "explore" / "run0").rglob("*") if f.is_file())
    times = open_times(out / "explore" / "run0.html", args.opens)
    ready, load = max(t[0] for t in times), max(t[1] for t in times)
    lines = [f"- hardware: {hardware('cpu')}",
             f"- run: `{args.run.name}`, {steps} steps, methods gradient and integrated-gradients (actor, critic)",
             f"- page size: {mb:.1f} MB ({files} image files; limit 30 MB)",
             f"- build: play {play_s:.1f} s, saliency + images + page {build_s:.1f} s",
             f"- open in headless Chromium (slowest of {len(times)} fresh browsers): data-ready {ready:.0f} ms, "
             f"load event {load:.0f} ms (limit 2 s); each open: "
             + ", ".join(f"{r:.0f}/{lo:.0f} ms" for r, lo in times),
             f"- command: `python benchmarks/explorer.py {shlex.join(sys.argv[1:])}`"]
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section(args.write, "explorer", "Explorer page: size and open time", body)
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
