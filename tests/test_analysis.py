"""rlsight compare and the analysis API on synthetic run directories (docs/run-directory.md format)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

import rlsight
from rlsight.analysis import collect, render_table, summary_table
from rlsight.analysis.compare import compare
from rlsight.analysis.curves import build_panels
from rlsight.analysis.groups import differing_keys
from rlsight.cli.main import main
from rlsight.runs import RunDir
from tests.analysis_helpers import UPDATES, write_run
from tests.atari_helpers import tiny_atari_config
from tests.conftest import tiny_config


@pytest.fixture
def two_configs(tmp_path: Path) -> Path:
    """Three seeds of each of two configs that differ in ppo.lr and ppo.num_epochs."""
    root = tmp_path / "runs"
    root.mkdir()
    for s in range(3):
        write_run(root / f"base-s{s}", seed=s)
        write_run(root / f"fast-s{s}", seed=s, lr=1e-3, epochs=3, offset=4.0)
    return root


# -- acceptance 1 --------------------------------------------------------------------------------
def test_compare_draws_two_groups_with_bands_and_table_lists_differing_keys(two_configs, tmp_path, capsys):
    out = tmp_path / "cmp.png"
    rc = main(["compare", str(two_configs / "*"), "--out", str(out), "--metric", "test_return", "--table", "csv"])
    assert rc == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert len(table) == 2 and list(table["runs"]) == [3, 3]
    config_cols = [c for c in table.columns if "." in c]
    assert config_cols == ["ppo.lr", "ppo.num_epochs"]  # exactly the keys that differ (seed = replicates)
    assert sorted(table["ppo.lr"].astype(float)) == [5e-4, 1e-3]

    fig, _, comp = compare([two_configs / "*"], metric="test_return")
    ax = fig.axes[0]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    legend = sorted(t.get_text() for t in fig.legends[0].get_texts())
    assert legend == ["ppo.lr=0.0005, ppo.num_epochs=2 (n=3)", "ppo.lr=0.001, ppo.num_epochs=3 (n=3)"]
    # The drawn line is the mean of the three seeds, and the band contains it.
    df = comp.frame
    base = df[(df["metric"] == "test_return") & (df["group"] == "ppo.lr=0.0005, ppo.num_epochs=2")]
    expect = base.groupby("step")["value"].mean()
    x, y = ax.lines[0].get_data()  # the first group's line (runs base-s*)
    np.testing.assert_allclose(y, expect.reindex(x).to_numpy(), rtol=1e-9)
    verts = bands[0].get_paths()[0].vertices
    assert np.ptp(verts[:, 1]) > 0


def test_per_run_table_adds_the_seed(two_configs):
    comp = collect([two_configs])
    table = summary_table(comp.frame, comp.runs, per_run=True)
    assert len(table) == 6
    assert table.attrs["keys"] == ["ppo.lr", "ppo.num_epochs", "train.seed"]
    md = render_table(table, "md")
    assert md.splitlines()[0].startswith("| run | runs | game | train return")
    text = render_table(summary_table(comp.frame, comp.runs), "terminal")
    assert "[" in text  # intervals shown for groups of three


def test_load_runs_tidy_frame(two_configs):
    df = rlsight.load_runs(two_configs / "*", metrics=["train_return", "test_norm_return"])
    assert {"run", "group", "step", "wall_time", "metric", "value"} <= set(df.columns)
    assert set(df["metric"]) == {"train_return", "test_norm_return"}
    assert df.groupby("group", observed=True)["run"].nunique().tolist() == [3, 3]
    one = df[(df["run"] == "base-s0") & (df["metric"] == "train_return")]
    assert len(one) == UPDATES
    # normalised with the Procgen easy-mode constants for starpilot (2.5, 64)
    r = df[(df["run"] == "base-s0") & (df["metric"] == "train_return")]["value"].to_numpy()
    n = rlsight.load_runs(two_configs / "base-s0", metrics="train_norm_return")["value"].to_numpy()
    np.testing.assert_allclose(n, (r - 2.5) / 61.5)


def test_atari_runs_are_normalised_with_their_familys_human_range(tmp_path):
    # Pong's published random and human scores, -20.7 and 14.6 (Procgen has no "Pong": a run
    # normalised with the default family's constants would have no normalised metric at all)
    run = RunDir.create(tmp_path / "pong", tiny_atari_config(train__seed=0))
    run.write_metrics([{"update": i + 1, "step": 256 * (i + 1), "train_return": -20.0 + i,
                        "test_return": -21.0 + i} for i in range(5)])
    df = rlsight.load_runs(tmp_path / "pong", metrics=["test_return", "test_norm_return"])
    ret = df[df["metric"] == "test_return"]["value"].to_numpy()
    norm = df[df["metric"] == "test_norm_return"]["value"].to_numpy()
    np.testing.assert_allclose(norm, (ret + 20.7) / 35.3)
    # in another flavour no score was published: no normalised metric, the raw return stays
    other = RunDir.create(tmp_path / "pong-d1", tiny_atari_config(train__seed=0, env__difficulty=1))
    other.write_metrics([{"update": 1, "step": 256, "train_return": -20.0, "test_return": -21.0}])
    df = rlsight.load_runs(tmp_path / "pong-d1", metrics=["test_return", "test_norm_return"])
    assert set(df["metric"]) == {"test_return"}


def test_group_by_key_and_none(two_configs):
    df = rlsight.load_runs(two_configs, group_by="ppo.num_epochs")
    assert set(df["group"]) == {"ppo.num_epochs=2", "ppo.num_epochs=3"}
    df = rlsight.load_runs(two_configs, group_by="none")
    assert df["group"].nunique() == 6


def test_plot_runs_accepts_a_frame(two_configs):
    df = rlsight.load_runs(two_configs)
    fig = rlsight.plot_runs(df, metric="train_return,entropy", x="wall_time", smooth=3)
    assert len([a for a in fig.axes if a.get_visible()]) == 2
    assert fig.axes[0].get_xlabel() == "wall time"


def test_group_curve_is_dotted_where_a_run_has_ended(tmp_path):
    for s, updates in enumerate((UPDATES, UPDATES, UPDATES // 2)):
        write_run(tmp_path / f"s{s}", seed=s, updates=updates)
    fig, _, comp = compare([tmp_path], metric="test_return")
    (panel,) = build_panels(comp.frame, ["test_return"])
    (group,) = [s for s in panel.series if s.kind == "group"]
    last_of_short = (UPDATES // 2) * 256
    assert list(group.count) == [3 if x <= last_of_short else 2 for x in panel.grid]
    full, partial = group.split()
    assert np.isfinite(full).sum() == UPDATES // 2 and np.isnan(full[panel.grid > last_of_short]).all()
    assert np.isfinite(partial).sum() == UPDATES - UPDATES // 2 + 1  # the stretch and the point it joins
    dotted = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == ":"]
    assert len(dotted) == 1
    x, y = dotted[0].get_data()
    assert x[np.isfinite(y)].min() == last_of_short
    assert any("dotted" in t.get_text() for t in fig.texts)  # the subtitle explains it
    fig, _, _ = compare([tmp_path / "s0", tmp_path / "s1"], metric="test_return")
    assert not [ln for ln in fig.axes[0].lines if ln.get_linestyle() == ":"]
    assert not any("dotted" in t.get_text() for t in fig.texts)


def test_multi_game_group_uses_iqm(tmp_path):
    for s in range(2):
        write_run(tmp_path / f"sp{s}", seed=s, game="starpilot")
        write_run(tmp_path / f"bf{s}", seed=s, game="bigfish")
    comp = collect([tmp_path], group_by="model.encoder")
    table = summary_table(comp.frame, comp.runs)
    assert len(table) == 1 and table["game"][0] == "bigfish, starpilot"
    assert math.isnan(table["test_return"][0])  # raw returns of different games are not pooled
    assert math.isfinite(table["test_norm_return"][0])
    fig, _, _ = compare([tmp_path], metric="test_norm_return", group_by="model.encoder")
    assert fig.axes[0].get_title() == "all games (IQM)"


def test_differing_keys():
    a, b = tiny_config().flat(), tiny_config(ppo__lr=1e-3, train__seed=4).flat()
    assert differing_keys([a, b]) == ["ppo.lr", "train.seed"]
    assert differing_keys([a, b], exclude=("train.seed",)) == ["ppo.lr"]
    assert differing_keys([a, a]) == []


# -- references -----------------------------------------------------------------------------------
def test_reference_csv_folder_and_rewards_json(two_configs, tmp_path):
    ref = tmp_path / "published"
    ref.mkdir()
    for k in range(2):
        for split, base in (("train", 5.0), ("test", 4.0)):
            steps = np.arange(1, 60) * 200
            pd.DataFrame({"total_timesteps": steps, "eprewmean": base + k + steps / 1e3, "eplenmean": 100,
                          "fps": 1000.0}).to_csv(ref / f"starpilot-{split}-run{k}.csv", index=False)
            pd.DataFrame({"total_timesteps": steps, "eprewmean": 1.0, "eplenmean": 100,
                          "fps": 1000.0}).to_csv(ref / f"bigfish-{split}-run{k}.csv", index=False)
    seed = tmp_path / "0_baseline"
    seed.mkdir()
    (seed / "rewards.json").write_text('{"steps": [256, 512], "train_reward": [1.0, 2.0], "val_reward": [0.5, 1.0]}')
    df = rlsight.load_runs(two_configs, reference=[ref, seed / "rewards.json"])
    refs = df[df["source"] == "reference"]
    assert set(refs["group"]) == {"ref: published starpilot", "ref: published bigfish", "ref: 0_baseline"}
    assert refs[refs["group"] == "ref: published starpilot"]["run"].nunique() == 2
    assert set(refs[refs["group"] == "ref: 0_baseline"]["metric"]) == {"train_reward_rate", "test_reward_rate"}
    fig, table, _ = compare([two_configs], metric="train_return", reference=[ref])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "ref: published starpilot (n=2)" in legend
    assert not any("bigfish" in t for t in legend)  # only the games being compared
    ax = fig.axes[0]
    ref_line = next(ln for ln in ax.lines if ln.get_linestyle() == "--")
    assert ref_line.get_xdata().max() <= UPDATES * 256 * 1.02  # clipped to the runs' range


def test_original_reward_rate_runs(tmp_path):
    write_run(tmp_path / "a", reward_rate_only=True)
    write_run(tmp_path / "b", seed=1, reward_rate_only=True)
    fig, table, _ = compare([tmp_path])  # metric auto -> the original project's reward rate
    assert fig.axes[0].get_ylabel().startswith("train reward rate")
    assert "train_reward_rate" in table.columns


# -- bad input ------------------------------------------------------------------------------------
def test_not_a_run_dir_is_named_and_others_still_plotted(two_configs, tmp_path, capsys):
    junk = tmp_path / "notes"
    junk.mkdir()
    out = tmp_path / "x.svg"
    rc = main(["compare", str(two_configs / "base-s0"), str(two_configs / "fast-s1"), str(junk), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0 and out.is_file()
    assert f"{junk}: not an rlsight run directory" in err
    assert out.read_text().count("<svg") == 1


def test_missing_metric_names_the_runs(two_configs, tmp_path, capsys):
    write_run(two_configs / "imported", reward_rate_only=True)
    rc = main(["compare", str(two_configs), "--metric", "test_return", "--table", "none"])
    assert rc == 0
    assert "metric 'test_return' is missing in 1 of 7 runs: imported" in capsys.readouterr().err


def test_metric_in_no_run_is_an_error(two_configs, capsys):
    assert main(["compare", str(two_configs), "--metric", "test_reward_rate"]) == 2
    assert "none of the runs has the metric test_reward_rate" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["compare", "{root}/nothing-*"], "matches no files or folders"),
    (["compare", "{root}", "--metric", "reward"], "unknown metric 'reward'"),
    (["compare", "{root}", "--metric", ","], "metric ',': name one or more metrics, or 'auto'"),
    (["compare", "{root}", "--out", "{root}/plot.jpg"], "must end in .png, .pdf, .svg"),
    (["compare", "{root}", "--group-by", "ppo.lrr"], "did you mean 'ppo.lr'"),
    (["compare", "{root}", "--smooth", "0"], "--smooth 0"),
    (["compare", "{root}", "--reference", "{root}/missing.csv"], "no such file or folder"),
])
def test_bad_input_errors(two_configs, capsys, args, message):
    assert main([a.format(root=two_configs) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_only_bad_paths_is_an_error(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    assert main(["compare", str(tmp_path / "a")]) == 2
    assert "no rlsight run directories" in capsys.readouterr().err


# -- statistics ------------------------------------------------------------------------------------
def test_iqm_matches_trimmed_mean_and_ignores_nan():
    from rlsight.analysis.stats import iqm

    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 100])
    assert iqm(x) == pytest.approx(np.mean([3, 4, 5, 6]))  # two trimmed each side
    assert iqm(np.array([[1.0, np.nan], [2, 5], [3, np.nan], [50, 6]]), axis=0) == pytest.approx([2.5, 5.5])
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (3, 4, 7, 10, 13):
        v = rng.normal(size=n)
        assert iqm(v) == pytest.approx(scipy_stats.trim_mean(v, 0.25))


def test_bootstrap_interval_and_stratification():
    from rlsight.analysis.stats import estimate, stratified_bootstrap

    point, lo, hi = estimate(np.array([1.0, 2.0, 3.0, 4.0]))
    assert point[0] == 2.5 and 1.0 <= lo[0] < 2.5 < hi[0] <= 4.0
    same = estimate(np.full((5, 1), 7.0))
    assert same[1][0] == same[2][0] == 7.0
    # Two games with two runs each: resampling within games keeps one half at 0 and one at 10,
    # so the mean never moves; resampling across games would.
    values = np.array([0.0, 0.0, 10.0, 10.0])
    lo, hi = stratified_bootstrap(values, ["a", "a", "b", "b"])
    assert lo[0] == hi[0] == 5.0
    lo, hi = stratified_bootstrap(values)
    assert lo[0] < 5.0 < hi[0]
    assert np.isnan(stratified_bootstrap(np.array([[1.0], [np.nan]]))[0][0])  # one run: no interval
    # One run per game: nothing to resample within a game, so no interval (not a zero-width one);
    # a second run of one game gives one.
    point, lo, hi = estimate(np.array([0.2, 0.5, 0.9, 0.4]), ["a", "b", "c", "d"], "iqm")
    assert point[0] == pytest.approx(0.45) and np.isnan(lo[0]) and np.isnan(hi[0])
    point, lo, hi = estimate(np.array([0.2, 0.5, 0.9, 0.4, 0.3]), ["a", "b", "c", "d", "a"], "iqm")
    assert lo[0] < hi[0]
