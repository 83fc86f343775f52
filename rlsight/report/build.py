"""Write the report folder: index.html, assets/ (our chart JS and CSS), media/ (saliency videos)."""

from __future__ import annotations

import math
import shlex
import shutil
import time
from collections.abc import Iterable
from html import escape
from pathlib import Path

import numpy as np

from rlsight import __version__
from rlsight.analysis import (
    GENERALISATION_NOTE,
    Comparison,
    Panel,
    Warn,
    build_panels,
    check_metric,
    check_x,
    collect,
    colors,
    differing_keys,
    display_frame,
    format_value,
    generalisation_display,
    generalisation_table,
    label,
    number,
    present_metrics,
    summary_table,
)
from rlsight.errors import RlsightError
from rlsight.report.explorer import ExploreOptions, build_pages, write_explorer
from rlsight.report.explorer.options import Page as ExplorerPage
from rlsight.report.explorer.page import json_for_script
from rlsight.report.media import Video, find_videos
from rlsight.runs.atomic import atomic_dir

STATIC = Path(__file__).parent / "static"
ASSETS = ("report.js", "report.css", "explorer.js")
VENDOR = "vendor"  # third-party files (uPlot), copied as they are: see static/README.md
MARKER = ".rlsight-report"
REPORT_METRICS = ["test_return", "train_return", "test_norm_return", "gap", "train_reward_rate", "test_reward_rate",
                  "sps", "policy_loss", "value_loss", "entropy", "approx_kl", "explained_variance"]
MAX_RUN_SERIES = 30


def build_report(inputs: Iterable[str | Path], out: str | Path, metrics: list[str] | None = None,
                 x: str = "steps", smooth: int = 1, group_by: str | None = None,
                 reference: list[str | Path] | None = None, stat: str = "auto", title: str | None = None,
                 warn: Warn = lambda m: None, explore: ExploreOptions | None = None) -> Path:
    """Write ``out/index.html`` comparing the runs; returns the path of index.html.

    ``out`` must be new, empty, or an earlier report (which is replaced). With ``explore``,
    also an explorer page per run that has a model and per pair of such runs (``out/explore/``).
    """
    out = Path(out)
    _check_out(out)
    if explore is not None:
        explore.validate()
    xcol = check_x(x)
    comp = collect(inputs, group_by, reference or None, warn)
    wanted = [check_metric(m) for m in metrics] if metrics else [m for m in REPORT_METRICS if m in comp.metric_names()]
    panels = []
    if wanted:
        wanted = present_metrics(comp.frame, wanted, warn)
        panels = build_panels(comp.frame, wanted, xcol, smooth, stat, with_runs=len(comp.runs) <= MAX_RUN_SERIES,
                              warn=warn)
    videos = [v for i, r in enumerate(comp.runs) for v in find_videos(i, r.label, r.path)]
    explorers: list[ExplorerPage] = []
    if explore is not None:
        explorers = build_pages([(r.label, r.path) for r in comp.runs], explore, warn)
    page = render_page(comp, panels, videos, title or "rlsight run comparison", smooth, explorers if explore else None)

    def fill(tmp: Path) -> None:
        (tmp / "assets").mkdir()
        for name in ASSETS:
            shutil.copyfile(STATIC / name, tmp / "assets" / name)
        shutil.copytree(STATIC / VENDOR, tmp / "assets" / VENDOR)
        for v in videos:
            dest = tmp / v.target
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(v.source, dest)
        for ex in explorers:
            write_explorer(tmp / "explore", ex)
        (tmp / "index.html").write_text(page, encoding="utf-8")
        (tmp / MARKER).write_text(f"rlsight {__version__}\n")
        tmp.chmod(0o755)

    atomic_dir(out, fill, replace=True, point="report")
    return out / "index.html"


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RlsightError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise RlsightError(f"--out {out}: folder is not empty and holds no earlier rlsight report; "
                           "choose a new or empty folder")
    if not out.parent.is_dir():
        raise RlsightError(f"--out {out}: folder {out.parent} does not exist")


# -- page ---------------------------------------------------------------------------------
def render_page(comp: Comparison, panels: list[Panel], videos: list[Video], title: str, smooth: int,
                explorers: list[ExplorerPage] | None = None) -> str:
    """The report's HTML page: every section, with the curve data embedded as JSON
    (an explorer section listing the explorer pages when ``explorers`` is not None)."""
    groups = list(dict.fromkeys(r.group for r in comp.runs))
    data = {"panels": [_panel_json(p, panels) for p in panels]}
    sections = [
        ("curves", "Curves", _curves_html(smooth)),
        ("summary", "Summary", _summary_html(comp)),
        ("config", "Configuration differences", _config_html(comp)),
        ("generalisation", "Generalisation", _generalisation_html(comp)),
        ("evaluation", "Evaluation results", _eval_html(comp)),
        ("faithfulness", "Saliency faithfulness", _faithfulness_html(comp)),
        ("saliency", "Saliency videos", _videos_html(videos)),
        *([("explorer", "Explorer", _explorer_html(explorers))] if explorers is not None else []),
        ("tensorboard", "TensorBoard", _tensorboard_html(comp)),
        ("runs", "Runs", _runs_html(comp)),
    ]
    nav = " ".join(f'<a href="#{sid}">{escape(name)}</a>' for sid, name, _ in sections)
    warn = ""
    if comp.warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in comp.warnings)
        warn = f'<section class="warnings" id="warnings"><strong>Warnings</strong><ul>{items}</ul></section>'
    body = "\n".join(f'<section id="{sid}"><h2>{escape(name)}</h2>\n{html}\n</section>' for sid, name, html in sections)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/vendor/uplot/uPlot.min.css">
<link rel="stylesheet" href="assets/report.css">
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p class="muted">{len(comp.runs)} runs in {len(groups)} groups · made by rlsight {escape(__version__)} on {stamp}</p>
<nav>{nav}</nav>
</header>
<main>
{warn}
{body}
</main>
<script type="application/json" id="report-data">{_json_for_script(data)}</script>
<script src="assets/vendor/uplot/uPlot.iife.min.js"></script>
<script src="assets/report.js"></script>
</body>
</html>
"""


_json_for_script = json_for_script


def _panel_json(p: Panel, panels: list[Panel]) -> dict:
    group_style = colors(list(dict.fromkeys(s.label for q in panels for s in q.series if s.kind == "group")), "group")
    ref_style = colors(list(dict.fromkeys(s.label for q in panels for s in q.series if s.kind == "reference")),
                       "reference")
    series = []
    for s in p.series:
        if s.kind == "run":
            owner = next((g.label for g in p.series if g.kind == "group" and s.runs[0] in g.runs), "")
            dash: list[int] | None = [2, 3]
            color = group_style.get(owner, ("#999999", "-"))[0]
            name = f"run: {s.label}"
        else:
            color, style = (group_style if s.kind == "group" else ref_style)[s.label]
            dash = None if style == "-" else [6, 4]
            n = len(s.runs)
            name = s.label + (f" (n={n}{', IQM' if s.stat == 'iqm' else ''})" if n > 1 else "")
        full, partial = s.split()
        item: dict[str, object] = {"name": name, "kind": s.kind, "color": color, "dash": dash, "y": _nums(full)}
        if s.kind != "run" and np.isfinite(partial).any():  # dotted where only some runs reach
            item.update(partial=_nums(partial), count=[int(c) for c in s.count], runs=len(s.runs))
        if np.isfinite(s.lo).any():
            item["lo"], item["hi"] = _nums(s.lo), _nums(s.hi)
        series.append(item)
    return {"title": p.title, "x": p.x, "xlabel": "environment steps" if p.x == "step" else "wall time",
            "ylabel": label(p.metric), "grid": _nums(p.grid), "series": series}


def _nums(a: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(v) else float(f"{v:.6g}") for v in np.asarray(a, dtype=float)]


def _curves_html(smooth: int) -> str:
    note = f" Each run is smoothed with a moving average over {smooth} points." if smooth > 1 else ""
    return ('<p class="muted">Lines: mean over the runs of a group (interquartile mean where a group spans games); '
            "bands: 95% bootstrap confidence interval over runs; dotted: only some of a group's runs reach there, "
            "so the mean moves as runs drop out (the legend says how many). Drag across a chart to zoom, double-click to "
            f"reset, hover to read values, click a legend entry to hide or show it (single runs start hidden).{note}</p>"
            '\n<div id="charts"></div>')


def _table_html(header: list[str], rows: list[list[str]], numeric: set[int] | frozenset[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{escape(c)}</td>' for i, c in enumerate(r))
        + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _summary_html(comp: Comparison) -> str:
    table = summary_table(comp.frame, comp.runs)
    d = display_frame(table)
    first_key = len(d.columns) - len(table.attrs.get("keys", []))
    numeric = set(range(3, first_key))
    note = ('<p class="muted">Final value of each metric (last logged point); intervals are 95% bootstrap CIs over '
            "the runs of a group (percentile, 2000 resamples); normalised test return uses the Procgen paper's "
            "constants (Atari: random and human scores) and, for groups spanning games, the interquartile mean "
            "with a stratified bootstrap (Agarwal et al. 2021). Columns on the right: the config keys that differ between groups.</p>")
    return note + _table_html(list(d.columns), [list(map(str, r)) for r in d.itertuples(index=False)], numeric)


def _config_html(comp: Comparison) -> str:
    configs = [r.config for r in comp.runs]
    keys = differing_keys(configs)
    if not keys:
        diff = "<p>All runs have the same configuration.</p>"
    else:
        diff = _table_html(["run", "group", *keys],
                           [[r.label, r.group, *(format_value(r.config.get(k)) for k in keys)] for r in comp.runs])
    same = [k for k in configs[0] if k not in keys]
    common = "".join(f"<tr><td>{escape(k)}</td><td>{escape(format_value(configs[0][k]))}</td></tr>" for k in same)
    return (f"{diff}\n<details><summary>Settings shared by every run ({len(same)})</summary>"
            f"<table><tbody>{common}</tbody></table></details>")


def _generalisation_html(comp: Comparison) -> str:
    table = generalisation_table(comp.runs)
    if not len(table):
        return ("<p>No evaluations yet. <code>rlsight evaluate RUN --suite generalisation</code> measures the "
                "return on the training levels, the held-out levels, the other difficulty mode and backgrounds "
                "switched (Atari: the training and evaluation protocols, the next difficulty and game mode).</p>")
    d = generalisation_display(table)
    note = f'<p class="muted">{escape(GENERALISATION_NOTE[0].upper() + GENERALISATION_NOTE[1:])}.</p>'
    return note + _table_html(list(d.columns), [list(map(str, r)) for r in d.itertuples(index=False)],
                              set(range(3, len(d.columns))))


def _eval_html(comp: Comparison) -> str:
    rows = []
    for r in comp.runs:
        for e in r.run.evals() if r.run is not None else []:
            norm = e.get("normalized_return")
            split = str(e.get("split", "")) + (f" ({e['setting']})" if e.get("setting") else "")
            rows.append([r.label, split, str(e.get("step", "")), str(e.get("episodes", "")),
                         f"{number(_f(e.get('mean_return')))} ± {number(_f(e.get('stderr')))}",
                         number(_f(norm)) if norm is not None else "–",
                         "random" if e.get("policy") == "random" else "greedy" if e.get("greedy") else "sampled",
                         str(e.get("seed", ""))])
    if not rows:
        return ("<p>No evaluations yet. <code>rlsight evaluate RUN</code> writes them to "
                "<code>RUN/eval/*.json</code>.</p>")
    return _table_html(["run", "split", "step", "episodes", "return (± s.e.)", "normalised", "actions", "seed"],
                       rows, {2, 3, 4, 5})


def _f(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _videos_html(videos: list[Video]) -> str:
    if not videos:
        return ("<p>No saliency videos found. Videos saved as <code>RUN/saliency/*.mp4</code> (or .webm, .gif) "
                "appear here, side by side.</p>")
    rows: dict[str, list[Video]] = {}
    for v in videos:
        rows.setdefault(v.name, []).append(v)
    out = []
    for name, vs in rows.items():
        figs = []
        for v in vs:
            media = (f'<img src="{escape(v.target)}" alt="{escape(v.name)}">' if v.is_gif else
                     f'<video src="{escape(v.target)}" controls muted loop playsinline preload="metadata"></video>')
            figs.append(f"<figure>{media}<figcaption>{escape(v.run)}</figcaption></figure>")
        button = '<button type="button" class="play-row">Play together</button>' if any(not v.is_gif for v in vs) else ""
        out.append(f'<h3>{escape(name)}</h3> {button}<div class="video-row">{"".join(figs)}</div>')
    return "\n".join(out)


def _faithfulness_html(comp: Comparison) -> str:
    from rlsight.explain.faithfulness.report import COLUMNS, rows
    from rlsight.explain.verdicts import load_results

    out, notes = [], []
    for r in comp.runs:
        try:
            res = load_results(r.path)
        except RlsightError as e:
            notes.append(str(e))
            continue
        if not res:
            continue
        for method, per_target in (res.get("results") or {}).items():
            for target, entry in per_target.items():
                # each entry keeps the check it came from (checks of other methods merge into one file)
                c = entry.get("check") if isinstance(entry.get("check"), dict) else res
                frames = (c.get("settings") or {}).get("frames", "")
                other = (c.get("other") or {}).get("run", "n/a")
                [row] = rows({"results": {method: {target: entry}}})
                out.append([r.label, str(frames), str(c.get("model_step", "")), str(other), *row])
    if not out and not notes:
        return ("<p>No faithfulness results. <code>rlsight saliency-check RUN [--other RUN]</code> scores every "
                "saliency method and stores the result in <code>RUN/explain/faithfulness.json</code>.</p>")
    note = ('<p class="muted">Deletion and insertion AUC as a ratio to a random pixel order (deletion: lower is '
            "better); intervals are 95% bootstrap CIs over frames. Verdict: faithful = (a) randomisation rank "
            "correlation below 0.5 on nonzero pixels, (b) deletion AUC below the edge map's and (c) below the other "
            "model's map's, CIs not overlapping; weak = some; fails = none (docs/saliency.md).</p>")
    bad = "".join(f"<p class=warn>{escape(n)}</p>" for n in notes)
    table = _table_html(["run", "frames", "model step", "other model", *COLUMNS], out, set(range(6, 13))) if out else ""
    return note + bad + table


def _explorer_html(pages: list[ExplorerPage]) -> str:
    if not pages:
        return "<p>No explorer pages: none of the runs has a model (<code>model.safetensors</code>).</p>"
    items = "".join(f'<li><a href="explore/{escape(p.slug)}.html">{escape(p.title)}</a></li>' for p in pages)
    return ('<p class="muted">An episode per run (and per pair of runs, on the first one\'s frames) to scrub '
            f'through, with timelines, bookmarks, saliency and feature maps.</p><ul class="explorer-list">{items}</ul>')


def _tensorboard_html(comp: Comparison) -> str:
    dirs = [(r.label, r.path.resolve() / "tb") for r in comp.runs if (r.path / "tb").is_dir()]
    if not dirs:
        return "<p>None of the runs has TensorBoard logs (<code>RUN/tb/</code>).</p>"
    spec = ",".join(f"{_tb_name(i, lab)}:{p}" for i, (lab, p) in enumerate(dirs))
    cmd = f"tensorboard --logdir_spec {shlex.quote(spec)}"
    return f"<p>Open the runs' logs in TensorBoard:</p><pre><code>{escape(cmd)}</code></pre>"


def _tb_name(i: int, label: str) -> str:
    clean = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return clean or f"run{i}"


def _runs_html(comp: Comparison) -> str:
    rows = []
    for r in comp.runs:
        rows.append([r.label, r.group, str(r.info.get("kind", "")), str(r.info.get("status", "")),
                     str(r.info.get("steps", "")), str(r.path.resolve())])
    return _table_html(["run", "group", "kind", "status", "steps", "path"], rows)
