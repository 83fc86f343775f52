"""The explorer pages in a real headless Chromium (same driver as test_report_browser):
scrub with the mouse and the keys, jump to a bookmark, click a chart, switch the saliency
method, and check what is drawn (step shown, chart markers moved, overlay source, verdict)."""

from __future__ import annotations

import json
import time

import pytest

from rlsight.report import build_report
from rlsight.report.explorer import ExploreOptions
from tests.explorer_helpers import write_features, write_model_run, write_verdict
from tests.test_report import XSS
from tests.test_report_browser import Browser, need_chromium

pytestmark = pytest.mark.system
KEYS = {"ArrowRight": 39, "ArrowLeft": 37, "Home": 36, "End": 35, "b": 66}


@pytest.fixture
def explorer(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    a = write_model_run(runs / "a", seed=0)
    write_model_run(runs / "<script>alert(1)<" / "script>", seed=1)
    write_verdict(a, "gradient", "actor", "faithful")
    write_features(a, k=3)
    index = build_report([a, runs / "<script>alert(1)<" / "script>"], tmp_path / "report",
                         explore=ExploreOptions(steps=40, methods=("gradient", "integrated-gradients")))
    return index.parent / "explore" / "pair0-1.html"


def _state(b: Browser) -> dict:
    return b.evaluate("""(() => ({
        step: +document.body.dataset.step, label: document.getElementById('ex-step').textContent,
        frame: document.getElementById('ex-frame').getAttribute('src'),
        overlay0: document.getElementById('ex-overlay-0').getAttribute('src'),
        overlay1: document.getElementById('ex-overlay-1').getAttribute('src'),
        verdict0: document.getElementById('ex-verdict-0').textContent,
        verdict1: document.getElementById('ex-verdict-1').textContent,
        markers: Array.from(document.querySelectorAll('.ex-marker')).map(m => parseFloat(m.style.left)),
        slider: +document.getElementById('ex-scrub').value }))()""")


def _center(b: Browser, selector: str) -> tuple[float, float, float]:
    return tuple(b.evaluate(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
        e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2, r.width]; }})()"""))


def _click(b: Browser, x: float, y: float) -> None:
    for kind in ("mousePressed", "mouseReleased"):
        b.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
               session=True)


def _key(b: Browser, key: str) -> None:
    for kind in ("rawKeyDown", "keyUp"):
        b.call("Input.dispatchKeyEvent", {"type": kind, "key": key, "windowsVirtualKeyCode": KEYS[key],
                                          "nativeVirtualKeyCode": KEYS[key]}, session=True)


def test_explorer_in_headless_chromium(explorer, tmp_path):
    exe = need_chromium()
    data = json.loads(explorer.read_text().split('id="explorer-data">')[1].split("</script>")[0])
    last = data["steps"] - 1
    assert last >= 5, "the episode is too short to scrub"
    b = Browser(exe, tmp_path / "profile")
    try:
        b.call("Page.navigate", {"url": explorer.resolve().as_uri()}, session=True)
        b.wait_for("document.body && document.body.dataset.ready === '1'")
        s0 = _state(b)
        assert s0["step"] == 0 and s0["label"] == f"step 0 / {last}"
        assert s0["frame"].endswith("/f/00000.webp") and "/r0/gradient-actor/00000" in s0["overlay0"]
        assert s0["verdict0"] == "gradient (actor): faithful" and s0["verdict1"] == "gradient (actor): unchecked"
        assert len(s0["markers"]) == 5
        assert b.wait_for("document.getElementById('ex-frame').complete && "
                          "document.getElementById('ex-frame').naturalWidth") == 64  # the frame file loads
        assert b.wait_for("document.getElementById('ex-overlay-1').naturalWidth") == 128

        # scrub with the mouse: a click at 3/4 of the slider
        x, y, w = _center(b, "#ex-scrub")
        _click(b, x + w / 4, y)
        s1 = _state(b)
        assert abs(s1["step"] - 0.75 * last) <= 2 and s1["label"] == f"step {s1['step']} / {last}"
        assert s1["frame"].endswith(f"/f/{s1['step']:05d}.webp") and s1["overlay0"] != s0["overlay0"]
        assert all(m1 > m0 for m0, m1 in zip(s0["markers"], s1["markers"]))  # every chart's marker moved right

        # keys
        _key(b, "ArrowLeft")
        assert _state(b)["step"] == s1["step"] - 1
        _key(b, "End")
        assert _state(b)["step"] == last and _state(b)["slider"] == last
        _key(b, "Home")
        assert _state(b)["step"] == 0
        marks = sorted({m for r in data["runs"] for m in r["bookmarks"]})
        _key(b, "b")
        assert _state(b)["step"] == next(m for m in marks if m > 0)

        # a bookmark, clicked
        target = marks[-1]
        x, y, _ = _center(b, f'button.bookmark[data-step="{target}"]')
        _click(b, x, y)
        s2 = _state(b)
        assert s2["step"] == target and s2["overlay1"].endswith(f"{target:05d}.webp")
        assert b.evaluate(f"""document.querySelector('button.bookmark[data-step="{target}"]')
                               .classList.contains('current')""")

        # a click on a chart moves the episode there
        x, y, w = _center(b, '.ex-chart[data-series="advantage"] .u-over')
        _click(b, x - w / 2 + 2, y)
        assert _state(b)["step"] <= 1

        # switch the method: overlays and verdicts follow
        b.evaluate("""(() => { const s = document.getElementById('ex-method'); s.value = '2';
                       s.dispatchEvent(new Event('change')); })()""")
        s3 = _state(b)
        assert "/r0/integrated-gradients-actor/" in s3["overlay0"] and "/r1/integrated-gradients-actor/" in s3["overlay1"]
        assert s3["verdict0"] == "integrated-gradients (actor): unchecked"
        assert b.wait_for("document.getElementById('ex-overlay-0').complete && "
                          "document.getElementById('ex-overlay-0').naturalWidth") == 128
        texts = b.evaluate("document.body.innerText")
        assert XSS in texts and "<i>f2</i>" in texts
        assert b.evaluate("document.getElementById('ex-features-1').textContent") == \
            "no features stored (run rlsight features RUN)"
        feats = "Array.from(document.querySelectorAll('#ex-features-0 canvas.ex-feature')).map(c => c.toDataURL())"
        before = b.evaluate(feats)
        assert len(before) == 3 and b.evaluate("""document.querySelector('#ex-features-0 canvas')
            .getContext('2d').getImageData(0, 0, 1, 1).data[3]""") == 255  # drawn
        _key(b, "End")
        assert b.evaluate(feats) != before  # redrawn for another frame
        inked = b.evaluate("""Array.from(document.querySelectorAll('.ex-plot canvas')).map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })""")
        assert len(inked) == 5 and min(inked) > 500, inked
        time.sleep(0.3)
    finally:
        b.close()
    methods = [e.get("method") for e in b.events]
    assert "Page.javascriptDialogOpening" not in methods, "a script from a run name ran"
    errors = [e for e in b.events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")]
    assert not errors, errors
    urls = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls and not [u for u in urls if not u.startswith(("file:", "data:", "blob:"))]
