"""The explorer's HTML page: a fixed skeleton; ``explorer.js`` fills it from the embedded
JSON (every string from the data through ``textContent``)."""

from __future__ import annotations

import json
from html import escape

from rlsight import __version__
from rlsight.report.explorer.options import Page

HELP = ("Drag the slider or click a chart to move through the episode; keys: left/right one step, Home/End "
        "first/last, b next bookmark.")


def json_for_script(data: object) -> str:
    """JSON that cannot end the <script> element it sits in."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_explorer(page: Page) -> str:
    """The page ``explore/<slug>.html``; assets are one folder up (``../assets``)."""
    d = page.data
    what = ("both models are shown the first model's frames (replay), so maps and timelines compare step by step"
            if d["mode"] == "replay" else "the run's model plays")
    ended = "the episode ended" if d["ended"] else f"cut at {d['maxSteps']} steps"
    where = d["where"]
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(page.title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="../assets/vendor/uplot/uPlot.min.css">
<link rel="stylesheet" href="../assets/report.css">
</head>
<body class="explorer">
<header>
<p><a href="../index.html">&larr; report</a></p>
<h1>{escape(page.title)}</h1>
<p class="muted">{escape(str(d["game"]))}, {escape(where)}, environment seed {int(d["seed"])},
{int(d["steps"])} steps ({escape(ended)}); {escape(what)}. rlsight {escape(__version__)}</p>
<p class="muted">{escape(HELP)}</p>
</header>
<main>
<div class="ex-controls">
<button type="button" id="ex-prev" aria-label="previous step">&#9664;</button>
<input type="range" id="ex-scrub" min="0" max="0" value="0" aria-label="step">
<button type="button" id="ex-next" aria-label="next step">&#9654;</button>
<span id="ex-step" class="ex-step"></span>
<label>saliency <select id="ex-method"></select></label>
</div>
<div id="ex-bookmarks" class="ex-bookmarks"></div>
<div id="ex-film" class="ex-film"></div>
<div id="ex-charts" class="ex-charts"></div>
</main>
<script type="application/json" id="explorer-data">{json_for_script(d)}</script>
<script src="../assets/vendor/uplot/uPlot.iife.min.js"></script>
<script src="../assets/explorer.js"></script>
</body>
</html>
"""
