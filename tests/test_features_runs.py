"""``rlsight features`` / ``rlsight ablate`` and the notebook API on run directories
(tiny random Nature-DQN runs, a 2-level x 8-step state dataset)."""

from __future__ import annotations

import json
import re

import pytest

import rlsight
from rlsight.cli.main import main
from rlsight.errors import RlsightError
from rlsight.explain.features import load_features
from rlsight.explain.features import runs as feature_runs
from rlsight.explain.states import StatesSpec
from tests.faith_helpers import model_run

pytestmark = [pytest.mark.procgen, pytest.mark.usefixtures("one_torch_thread")]  # these tests play or record Procgen episodes

SPEC = StatesSpec(levels=2, steps=8, seed=0)


@pytest.fixture(autouse=True)
def _small(monkeypatch):
    monkeypatch.setattr(feature_runs, "DEFAULT_STATES", SPEC)


def quiet(_msg: str) -> None:
    pass


def test_features_are_stored_reused_and_not_silently_replaced(tmp_path):
    run = model_run(tmp_path / "a")
    fs = feature_runs.run_features(run, k=4, say=quiet)
    assert fs.layer == "encoder.layers.5" and fs.k == 4 and fs.meta["frames"] == 16
    stored = load_features(run)
    assert stored is not None and stored.shares == fs.shares
    assert stored.arrays["maps"].shape == (16, 4, 4, 4) and list(stored.arrays["frame_index"]) == list(range(16))
    said: list[str] = []
    feature_runs.run_features(run, k=4, say=said.append)
    assert any("reusing" in m for m in said)
    with pytest.raises(RlsightError, match=r"k=4 \(asked 3\).*--overwrite"):
        feature_runs.run_features(run, k=3, say=quiet)
    assert load_features(run).k == 4  # untouched
    assert feature_runs.run_features(run, k=3, overwrite=True, say=quiet).k == 3
    assert load_features(run).k == 3


def test_cli_features_prints_shares_and_lists_layers(tmp_path, capsys):
    run = model_run(tmp_path / "a")
    assert main(["features", str(run), "--k", "2", "--attribution", "gxa"]) == 0
    out = capsys.readouterr().out
    assert "2 features of a at encoder.layers.5 over 16 frames (gxa)" in out and "F1: value" in out
    assert main(["features", str(run), "--list-layers"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "encoder.layers.5  64x4x4"


@pytest.mark.parametrize("args, message", [
    (["--layer", "nope"], r"--layer 'nope': not a spatial layer of this model; its layers: encoder.layers.0, "),
    (["--k", "65"], r"--k 65: layer encoder.layers.5 has 64 channels; k must be 1..64"),
    (["--attribution", "lime"], r"--attribution 'lime': valid: ig, gxa"),
    (["--frames", "99"], r"--frames 99: the state dataset holds 16 frames"),
])
def test_cli_features_bad_input_is_one_line(tmp_path, capsys, args, message):
    run = model_run(tmp_path / "a")
    assert main(["features", str(run), *args]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("rlsight features: error: ")
    assert re.search(message, errors[0]), errors
    assert load_features(run) is None


def test_compare_two_runs_and_different_games(tmp_path, capsys):
    a, b = model_run(tmp_path / "a", seed=0), model_run(tmp_path / "b", seed=1)
    df = rlsight.features(a, b, k=2, method="gxa", say=quiet)
    assert set(df["run"]) == {"a", "b"} and len(df) == 4
    assert {"best_corr", "null_threshold", "p_value", "matched", "value_share", "policy_share"} <= set(df.columns)
    assert df["best_corr"].between(-1, 1).all() and df["p_value"].between(0.05, 1).all()
    assert (df["matched"] == (df["p_value"] <= 0.05)).all()
    saved = json.loads((a / "explain" / "features-compare" / "b.json").read_text())
    assert saved["meta"]["frames_from"] == "a" and len(saved["a"]) == 2
    assert main(["features", str(a), str(b), "--k", "2", "--attribution", "gxa"]) == 0
    assert "a has, b lacks:" in capsys.readouterr().out
    assert main(["features", str(a), str(b), "--k", "2", "--attribution", "gxa", "--random-networks", "4"]) == 2
    assert "--random-networks 4: must be >= 19" in capsys.readouterr().err
    assert json.loads((a / "explain" / "features-compare" / "b.json").read_text()) == saved  # nothing lost
    c = model_run(tmp_path / "c", game="coinrun")
    assert main(["features", str(a), str(c), "--k", "2"]) == 2
    err = capsys.readouterr().err
    assert "a plays starpilot but c plays coinrun; compare runs of the same game" in err
    assert not (a / "explain" / "features-compare" / "c.json").exists()


def test_ablate_run_and_its_bad_input(tmp_path, capsys):
    run = model_run(tmp_path / "a")
    assert main(["ablate", str(run), "--feature", "0", "--episodes", "4"]) == 2
    assert "a has no stored features; run `rlsight features" in capsys.readouterr().err
    feature_runs.run_features(run, k=2, method="gxa", say=quiet)
    assert main(["ablate", str(run), "--feature", "2", "--episodes", "4"]) == 2
    assert "--feature 2: out of range; this run has 2 features (0..1)" in capsys.readouterr().err
    df = rlsight.ablate(run, feature=0, episodes=4, say=quiet)
    assert list(df["measure"]) == ["return", "length"] and (df["episodes"] == 4).all()
    assert set(df["verdict"]) <= {"no significant change", "increase", "decrease"}
    res = json.loads((run / "explain" / "ablations" / "feature-0.json").read_text())
    assert len(res["returns"]["baseline"]) == 4 and res["verdict"] in ("no significant change", "significant change")


def test_a_stored_comparison_is_not_reused_for_another_run_of_the_same_name(tmp_path):
    a = model_run(tmp_path / "a", seed=0)
    x, y = model_run(tmp_path / "x" / "r", seed=1), model_run(tmp_path / "y" / "r", seed=2)
    said: list[str] = []
    first = rlsight.features(a, x, k=2, method="gxa", say=said.append)
    said.clear()
    second = rlsight.features(a, y, k=2, method="gxa", say=said.append)
    assert not any("reusing the comparison" in m for m in said)
    assert list(first["best_corr"]) != list(second["best_corr"])
    said.clear()
    rlsight.features(a, y, k=2, method="gxa", say=said.append)
    assert any("reusing the comparison" in m for m in said)


def test_ablate_refuses_a_run_with_no_held_out_levels(tmp_path):
    """It plays held-out episodes: a run that trained on every level has none."""
    run = model_run(tmp_path / "all", env__num_levels=0, env__num_test_envs=0)
    feature_runs.run_features(run, k=2, method="gxa", say=quiet, spec=StatesSpec(2, 4))
    with pytest.raises(RlsightError, match="rlsight ablate: all trained on every level .env.num_levels = 0."):
        rlsight.ablate(run, feature=0, episodes=2, say=quiet)
    assert not (run / "explain" / "ablations").exists()
