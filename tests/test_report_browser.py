"""The report in a real headless Chromium (Debian's ``chromium``), driven over the
DevTools protocol through a pipe (``--remote-debugging-pipe``): no driver library.

Skipped when /usr/bin/chromium is absent, except under CI=true, where it fails.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rlsight.report import build_report
from tests.analysis_helpers import write_run
from tests.test_report import XSS, xss_run

pytestmark = pytest.mark.system
CHROMIUM = os.environ.get("RLSIGHT_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--remote-debugging-pipe"]


def need_chromium() -> str:
    exe = CHROMIUM if os.path.isfile(CHROMIUM) else None
    if not exe:
        msg = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + "; browser tests must run under CI")
        pytest.skip(msg)
    return exe


class Browser:
    """A headless Chromium and one page, spoken to in DevTools-protocol JSON over a pipe."""

    def __init__(self, exe: str, profile: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser reads commands on fd 3 and writes replies on fd 4; move our ends out of the way first.
        r3 = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        w4 = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def child_fds() -> None:
            os.dup2(r3, 3)
            os.dup2(w4, 4)

        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     preexec_fn=child_fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(r3)
        os.close(w4)
        self.events: list[dict] = []
        self._replies: queue.Queue = queue.Queue()
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    self._replies.put(msg)
                else:
                    self.events.append(msg)
                    if msg.get("method") == "Page.javascriptDialogOpening":  # never leave a dialog blocking
                        self.send("Page.handleJavaScriptDialog", {"accept": True}, msg.get("sessionId"))

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        return self._next

    def call(self, method: str, params: dict | None = None, session: bool = False, timeout: float = 60) -> dict:
        mid = self.send(method, params, self.session if session else None)
        end = time.monotonic() + timeout
        while True:
            msg = self._replies.get(timeout=max(0.1, end - time.monotonic()))
            if msg["id"] == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def evaluate(self, expression: str, timeout: float = 60):
        r = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True},
                      session=True, timeout=timeout)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for: {expression}")

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)


def check_interaction(browser: Browser) -> None:
    """Hover shows a cursor and values, a legend click hides a series, dragging zooms, double-click resets."""
    box = browser.evaluate("""(() => { const a = document.querySelector('.chart-area'); a.scrollIntoView();
        const r = a.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()""")
    left, top, width, height = box
    mid = top + height / 2
    image = "document.querySelector('.chart-canvas canvas').toDataURL()"

    def mouse(kind: str, x: float, clicks: int = 1, button: str = "left") -> None:
        browser.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": mid, "button": button,
                                                  "clickCount": clicks}, session=True)

    original = browser.evaluate(image)
    mouse("mouseMoved", left + width / 2, button="none")
    assert browser.evaluate("getComputedStyle(document.querySelector('.chart-cursor')).display") == "block"
    values = browser.evaluate("""Array.from(document.querySelector('.chart-legend')
        .querySelectorAll('.legend-value')).map(e => e.textContent)""")
    assert values[0] and any(v and v != "--" for v in values[1:]), values  # x, then visible series
    item = "document.querySelector('.chart-legend .legend-item')"
    browser.evaluate(f"{item}.click()")
    assert browser.evaluate(f"{item}.classList.contains('off')")
    assert browser.evaluate(image) != original
    browser.evaluate(f"{item}.click()")
    assert browser.evaluate(image) == original
    mouse("mousePressed", left + width * 0.25)
    mouse("mouseMoved", left + width * 0.75)
    mouse("mouseReleased", left + width * 0.75)
    assert browser.evaluate(image) != original
    for clicks in (1, 2):
        mouse("mousePressed", left + width / 2, clicks)
        mouse("mouseReleased", left + width / 2, clicks)
    assert browser.evaluate(image) == original


def check_partial_stretch(browser: Browser) -> None:
    """Past the end of the shorter run the group's line is the longer run's alone: its legend
    value is that run's and says "(1 of 2 runs)"; hiding the group hides the dotted stretch."""
    left, top, width, height = browser.evaluate("""(() => { const a = document.querySelector('.chart-area');
        const r = a.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()""")
    legend = "document.querySelector('.chart-legend')"
    rows = browser.evaluate(f"Array.from({legend}.querySelectorAll('.legend-item .legend-name')).map(e => e.textContent)")
    group, run = rows.index(next(r for r in rows if r.startswith("ppo.lr=0.0005"))), rows.index("run: base-s0")
    item = f"{legend}.querySelectorAll('.legend-item')"
    browser.evaluate(f"{item}[{run}].click()")  # show the longer run's own line and value

    def hover(frac: float) -> list[str]:
        browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": left + width * frac, "y": top + height / 2,
                                                  "button": "none"}, session=True)
        return browser.evaluate(f"Array.from({item}).map(e => e.querySelector('.legend-value').textContent)")

    values = hover(0.98)
    assert values[group].endswith(" (1 of 2 runs)") and values[group].split(" ")[0] == values[run], values
    values = hover(0.3)
    assert "runs" not in values[group] and values[group] not in ("", "--"), values
    browser.evaluate(f"{item}[{run}].click()")  # hide the run again
    # the group's colour in the right quarter of the plot comes from the dotted stretch alone
    # (no band where one run is left; runs hidden), and goes with the group's legend entry
    blue = """(() => { const c = document.querySelector('.chart-canvas canvas'), d = c.getContext('2d')
        .getImageData(Math.floor(c.width * 0.8), 0, Math.ceil(c.width * 0.2), c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4)
            if (Math.abs(d[i] - 31) < 40 && Math.abs(d[i + 1] - 119) < 40 && Math.abs(d[i + 2] - 180) < 40 && d[i + 3] > 100) n++;
        return n; })()"""
    assert browser.evaluate(blue) > 20
    browser.evaluate(f"{item}[{group}].click()")
    assert browser.evaluate(blue) == 0
    browser.evaluate(f"{item}[{group}].click()")


def write_mp4(path: Path, frames: int = 20) -> None:
    import imageio_ffmpeg

    gen = imageio_ffmpeg.write_frames(str(path), (64, 64), fps=10, codec="libx264", macro_block_size=1,
                                      ffmpeg_log_level="error")
    gen.send(None)
    for i in range(frames):
        gen.send(np.full((64, 64, 3), (i * 12) % 256, dtype=np.uint8))
    gen.close()


@pytest.fixture
def report(tmp_path) -> tuple[Path, int]:
    runs = tmp_path / "runs"
    runs.mkdir()
    for s in range(2):
        write_run(runs / f"base-s{s}", seed=s, updates=30 if s == 0 else 20)  # s1 ends early: a dotted stretch
    bad = xss_run(runs)
    for run in (runs / "base-s0", bad):
        (run / "saliency").mkdir()
        write_mp4(run / "saliency" / "episode0.mp4")
    index = build_report([runs / "base-s0", runs / "base-s1", bad], tmp_path / "report",
                         metrics=["train_return", "test_return"])
    return index, 2


def test_report_in_headless_chromium(report, tmp_path):
    exe = need_chromium()
    index, panels = report
    browser = Browser(exe, tmp_path / "profile")
    try:
        browser.call("Page.navigate", {"url": index.resolve().as_uri()}, session=True)
        browser.wait_for("document.readyState === 'complete'")
        drawn = browser.wait_for(f"document.querySelectorAll('.chart-canvas[data-drawn]').length === {panels} "
                                 "&& document.querySelectorAll('.chart-canvas[data-drawn]').length")
        assert drawn == panels
        # Each chart's canvas has drawn pixels (lines and bands), not just a blank frame.
        inked = browser.evaluate("""Array.from(document.querySelectorAll('.chart-canvas canvas')).map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })""")
        assert len(inked) == panels and min(inked) > 1000, inked
        series = browser.evaluate("document.querySelectorAll('.chart-legend .legend-item').length")
        assert series >= 3 * panels
        names = browser.evaluate("Array.from(document.querySelectorAll('.legend-name')).map(e => e.textContent)")
        assert XSS in names
        check_interaction(browser)
        check_partial_stretch(browser)
        durations = browser.evaluate("""Promise.all(Array.from(document.querySelectorAll('video')).map(v =>
            new Promise(resolve => {
                if (v.readyState >= 1) return resolve(v.duration);
                v.addEventListener('loadedmetadata', () => resolve(v.duration));
                v.addEventListener('error', () => resolve(-1));
                v.load(); })))""", timeout=60)
        assert len(durations) == 2 and all(d > 0 for d in durations), durations
        assert browser.evaluate(f"document.body.innerText.includes({json.dumps(XSS)})")
        assert browser.evaluate("document.querySelectorAll('main script, header script').length") == 0
        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=True)
        (tmp_path / "report.png").write_bytes(base64.b64decode(shot["data"]))
        time.sleep(0.5)  # let late console messages arrive
    finally:
        browser.close()
    methods = [e.get("method") for e in browser.events]
    assert "Page.javascriptDialogOpening" not in methods, "a script from a run name ran"
    errors = [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") == "error")
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")]
    assert not errors, errors
    urls = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls, "no requests seen: the Network domain did not report"
    remote = [u for u in urls if not u.startswith(("file:", "data:", "blob:"))]
    assert not remote, remote
