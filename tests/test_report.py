"""rlsight report: the page's contents and escaping, without a browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rlsight.cli.main import main
from rlsight.report import build_report
from rlsight.report.build import MARKER
from tests.analysis_helpers import UPDATES, write_run

XSS = "<script>alert(1)</script>"


def xss_run(root: Path) -> Path:
    """A run whose label is ``<script>alert(1)</script>``: labels are paths relative
    to the common parent, so the name spans two folders (``<script>alert(1)<`` / ``script>``)."""
    parent = root / "<script>alert(1)<"
    parent.mkdir()
    return write_run(parent / "script>", seed=7, lr=2e-3)


def test_report_contents_and_escaping(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    write_run(runs / "a", seed=0)
    write_run(runs / "b", seed=1)
    bad = xss_run(runs)
    (bad / "eval").mkdir()
    (bad / "eval" / "test-ep8-seed0-step7680.json").write_text(json.dumps(
        {"split": "test", "episodes": 8, "seed": 0, "step": 7680, "mean_return": 4.5, "stderr": 0.5,
         "normalized_return": 0.03, "greedy": False, "run": XSS}))
    (bad / "tb").mkdir()
    (bad / "saliency").mkdir()
    (bad / "saliency" / "<img src=x onerror=alert(2)>.gif").write_bytes(b"GIF89a")
    index = build_report([runs / "a", runs / "b", bad], tmp_path / "report")
    page = index.read_text()
    assert XSS not in page and "onerror=alert(2)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data and json.loads(data)["panels"]
    for section in ("curves", "summary", "config", "evaluation", "saliency", "tensorboard", "runs"):
        assert f'<section id="{section}">' in page
    assert "tensorboard --logdir_spec" in page and "4.5" in page
    assert (tmp_path / "report" / "media" / "run2" / "0.gif").read_bytes() == b"GIF89a"
    assert all((tmp_path / "report" / "assets" / n).is_file() for n in ("report.js", "report.css"))
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from the network


def test_report_marks_where_only_some_runs_of_a_group_reach(tmp_path):
    write_run(tmp_path / "s0", seed=0)
    write_run(tmp_path / "s1", seed=1, updates=UPDATES - 10)
    index = build_report([tmp_path / "s0", tmp_path / "s1"], tmp_path / "report", metrics=["test_return"])
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', index.read_text(), re.S).group(1))
    (group,) = [s for s in data["panels"][0]["series"] if s["kind"] == "group"]
    n_full = UPDATES - 10
    assert group["runs"] == 2 and group["count"] == [2] * n_full + [1] * 10
    assert all(v is not None for v in group["y"][:n_full]) and group["y"][n_full:] == [None] * 10
    assert group["partial"][:n_full - 1] == [None] * (n_full - 1) and None not in group["partial"][n_full - 1:]
    assert "dotted" in index.read_text()


def test_report_replaces_an_earlier_report_but_not_other_folders(tmp_path, capsys):
    write_run(tmp_path / "run")
    out = tmp_path / "rep"
    assert main(["report", str(tmp_path / "run"), "--out", str(out)]) == 0
    (out / "stale.txt").write_text("x")
    assert main(["report", str(tmp_path / "run"), "--out", str(out)]) == 0
    assert (out / MARKER).is_file() and not (out / "stale.txt").exists()
    other = tmp_path / "docs"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    capsys.readouterr()
    assert main(["report", str(tmp_path / "run"), "--out", str(other)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (other / "keep.txt").read_text() == "mine"


def test_report_empty_glob_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none-*"), "--out", str(tmp_path / "r")]) == 2
    assert "matches no files" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("metric", ["test_return", "test_norm_return,gap"])
def test_report_metric_choice(tmp_path, metric):
    write_run(tmp_path / "run")
    index = build_report([tmp_path / "run"], tmp_path / "rep", metrics=metric.split(","))
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', index.read_text(), re.S).group(1))
    assert len(data["panels"]) == len(metric.split(","))
