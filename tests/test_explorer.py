"""Explorer pages of the report: the episode's timelines, bookmarks, the page's data and
files, escaping, bad input (the browser tests are in test_explorer_browser.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from rlsight.cli.main import main
from rlsight.errors import RlsightError
from rlsight.report import build_report
from rlsight.report.explorer import ExploreOptions
from rlsight.report.explorer.episode import Episode, bookmarks, timelines
from tests.explorer_helpers import write_model_run, write_verdict
from tests.test_report import XSS

pytestmark = pytest.mark.procgen  # these tests play or record Procgen episodes


def _episode(rewards, values, done, probs=None, actions=None) -> Episode:
    t = len(rewards)
    probs = np.full((t, 3), 1 / 3, np.float32) if probs is None else np.asarray(probs, np.float32)
    actions = np.zeros(t, np.int64) if actions is None else np.asarray(actions)
    obs = np.zeros((t, 64, 64, 3), np.uint8)
    return Episode(obs, actions, probs, np.asarray(values, np.float32), np.asarray(rewards, np.float32), done,
                   obs[0])


def test_timelines_gae_by_hand():
    ep = _episode([0.0, 1.0, 0.0], [0.5, 0.2, 0.1], done=True,
                  probs=[[0.5, 0.25, 0.25], [1, 0, 0], [0.2, 0.3, 0.5]], actions=[1, 0, 2])
    g, lam = 0.9, 0.5
    d2 = 0.0 - 0.1                       # last step: the episode ended, no bootstrap
    d1 = 1.0 + g * 0.1 - 0.2
    d0 = 0.0 + g * 0.2 - 0.5
    a2 = d2
    a1 = d1 + g * lam * a2
    a0 = d0 + g * lam * a1
    s = timelines(ep, g, lam, last_value=123.0)  # ignored: the episode ended
    np.testing.assert_allclose(s["advantage"], [a0, a1, a2], rtol=1e-5)
    np.testing.assert_allclose(s["prob"], [0.25, 1.0, 0.5])
    np.testing.assert_allclose(s["entropy"][1], 0.0, atol=1e-9)
    np.testing.assert_allclose(s["entropy"][0], -(0.5 * np.log(0.5) + 0.5 * np.log(0.25)), rtol=1e-6)
    cut = timelines(_episode([0.0], [0.5], done=False), g, lam, last_value=2.0)
    np.testing.assert_allclose(cut["advantage"], [g * 2.0 - 0.5], rtol=1e-6)  # cut short: bootstrapped


def test_bookmarks_are_the_largest_abs_advantages_in_step_order():
    adv = np.array([0.1, -5.0, 0.2, 3.0, 0.0, -0.3])
    assert bookmarks(adv, 3) == [1, 3, 5]
    assert bookmarks(adv[:2], 8) == [0, 1]


@pytest.mark.parametrize("opts, word", [(ExploreOptions(level=-1), "--explore-level -1"),
                                        (ExploreOptions(steps=0), "--explore-steps 0"),
                                        (ExploreOptions(methods=("nope",)), "'nope'")])
def test_bad_explore_options_are_one_line_errors(opts, word):
    with pytest.raises(RlsightError, match=re.escape(word)) as e:
        opts.validate()
    assert "\n" not in str(e.value)


def test_cli_bad_method_writes_nothing(tmp_path, capsys):
    write_model_run(tmp_path / "run")
    out = tmp_path / "rep"
    assert main(["report", str(tmp_path / "run"), "--out", str(out), "--explore-methods", "gradient,<b>x"]) == 2
    err = capsys.readouterr().err
    assert "unknown method '<b>x'" in err and "integrated-gradients" in err
    assert not out.exists()


def test_explorer_pages_data_files_and_escaping(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    a = write_model_run(runs / "a", seed=0)
    bad = write_model_run(runs / "<script>alert(1)<" / "script>", seed=1)
    write_verdict(a, "gradient", "actor", "weak")
    index = build_report([a, bad], tmp_path / "rep", explore=ExploreOptions(steps=12, methods=("gradient",)))
    page = index.read_text()
    assert '<section id="explorer">' in page and 'href="explore/run0.html"' in page
    assert 'href="explore/pair0-1.html"' in page and XSS not in page
    ex = tmp_path / "rep" / "explore"
    for slug, n_runs in (("run0", 1), ("run1", 1), ("pair0-1", 2)):
        html = (ex / f"{slug}.html").read_text()
        assert XSS not in html
        assert not re.search(r'(src|href)="(https?:)?//', html)
        data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', html, re.S).group(1))
        assert "<" not in re.search(r'id="explorer-data">(.*?)</script>', html, re.S).group(1)
        t = data["steps"]
        assert 1 <= t <= 12 and len(data["runs"]) == n_runs
        assert len(list((ex / data["frames"]).glob("*.webp"))) == t
        for r in data["runs"]:
            assert {k: len(v) for k, v in r["series"].items()} == dict.fromkeys(
                ("value", "prob", "entropy", "reward", "advantage"), t)
            assert [(o["method"], o["target"]) for o in r["overlays"]] == [("gradient", "actor"), ("gradient", "critic")]
            for o in r["overlays"]:
                assert len(list((ex / o["dir"]).glob("*.webp"))) == t
            assert r["features"] is None and "rlsight features" in r["featuresNote"]
            assert r["bookmarks"] == sorted(r["bookmarks"]) and len(r["bookmarks"]) == min(8, t)
        if slug == "pair0-1":  # both models on the first one's frames
            assert data["mode"] == "replay" and data["runs"][1]["label"] == XSS
            assert data["runs"][0]["actions"] == data["runs"][1]["actions"]
            assert data["runs"][0]["series"]["value"] != data["runs"][1]["series"]["value"]
            assert data["frames"] == "run0/f/"  # the first model's own episode: its images are shared
            assert data["runs"][0]["overlays"][0]["dir"] == "run0/r0/gradient-actor/"
            assert data["runs"][1]["overlays"][0]["dir"] == "pair0-1/r1/gradient-actor/"
    run0 = json.loads(re.search(r'id="explorer-data">(.*?)</script>', (ex / "run0.html").read_text(), re.S).group(1))
    assert [o["verdict"] for o in run0["runs"][0]["overlays"]] == ["weak", "unchecked"]
    assert run0["level"] == 20  # tiny config: 20 training levels, the first held-out one is 20


def test_explorer_level_seed_and_runs_without_a_model(tmp_path):
    from tests.analysis_helpers import write_run

    a = write_model_run(tmp_path / "a")
    plain = write_run(tmp_path / "plain", seed=3)
    warnings: list[str] = []
    index = build_report([a, plain], tmp_path / "rep", warn=warnings.append,
                         explore=ExploreOptions(level=7, seed=3, steps=5, methods=("gradient",)))
    assert any("plain" in w and "no model" in w for w in warnings)
    html = (index.parent / "explore" / "run0.html").read_text()
    data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', html, re.S).group(1))
    assert (data["level"], data["seed"]) == (7, 3)
    assert "training level 7" in html  # the tiny config trains on levels 0-19
    assert not (index.parent / "explore" / "run1.html").exists()


def test_explorer_says_what_its_level_is_to_each_run(tmp_path):
    """The runs play one level, the first run's first held-out one: to a run that trained on
    more levels it is a training level, and the pages say so."""
    a = write_model_run(tmp_path / "a")  # levels 0-19
    b = write_model_run(tmp_path / "b", env__num_levels=200)  # levels 0-199
    write_verdict(a, "gradient", "actor", "weak", model_step=1000)
    index = build_report([a, b], tmp_path / "rep", explore=ExploreOptions(steps=4, methods=("gradient",)))
    ex = index.parent / "explore"
    assert "held-out level 20," in (ex / "run0.html").read_text()
    assert "training level 20," in (ex / "run1.html").read_text()
    assert "level 20 (held out for a; a training level of b)" in (ex / "pair0-1.html").read_text()
    run0 = json.loads(re.search(r'id="explorer-data">(.*?)</script>', (ex / "run0.html").read_text(), re.S).group(1))
    assert run0["runs"][0]["overlays"][0]["verdict"] == "unchecked at step 1 (weak at step 1,000)"  # another model


def test_explorer_feature_maps_from_the_features_store(tmp_path):
    import base64

    from PIL import Image

    from rlsight.explain.features import load_features
    from rlsight.runs.load import load_policy
    from tests.explorer_helpers import write_features

    a = write_model_run(tmp_path / "a")
    layer, (_, h, w) = write_features(a, k=3)
    index = build_report([a], tmp_path / "rep", explore=ExploreOptions(steps=6, methods=("gradient",)))
    html = (index.parent / "explore" / "run0.html").read_text()
    data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', html, re.S).group(1))
    f = data["runs"][0]["features"]
    t = data["steps"]
    assert (f["k"], f["layer"], f["h"], f["w"]) == (3, layer, h, w)
    assert f["labels"] == ["<i>f0</i>", "<i>f1</i>", "<i>f2</i>"] and "<i>" not in html
    q = np.frombuffer(base64.b64decode(f["data"]), np.uint8).reshape(t, 3, h, w)
    model, _, _ = load_policy(a)
    obs = np.stack([np.asarray(Image.open(index.parent / "explore" / data["frames"] / f"{i:05d}.webp").convert("RGB"))
                    for i in range(t)])
    maps = load_features(a).project(model, obs)
    assert q.max() == 255  # each feature scaled by its episode maximum
    peak = maps.max(axis=(0, 2, 3), keepdims=True)
    expect = np.round(maps / np.where(peak > 0, peak, 1) * 255)
    assert np.abs(q.astype(float) - expect).max() <= 1
