"""The generalisation table of rlsight compare and report: train, held-out and shifted
settings from the stored evaluations, with 95% intervals and the gaps between them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rlsight.analysis import collect, generalisation_table, render_generalisation
from rlsight.analysis.generalisation import Z95, latest_results, pool, setting_of
from rlsight.cli.main import main
from rlsight.report import build_report
from rlsight.runs import RunDir
from tests.analysis_helpers import write_run

STEP = 1024


def _result(split: str, mean: float, se: float, shift: dict | None = None, step: int = STEP,
            episodes: int = 256, greedy: bool = False) -> dict:
    start, count = (0, 20) if split == "train" else (20, 100000)
    r = {"run": "r", "game": "starpilot", "split": split, "start_level": start, "num_levels": count,
         "episodes": episodes, "seed": 0, "greedy": greedy, "step": step, "mean_return": mean, "stderr": se,
         "normalized_return": None}
    if shift:
        levels = shift.get("levels")
        if levels:
            r.update(split="levels", start_level=levels[0], num_levels=levels[1])
        r.update(shift=shift, setting=",".join(f"{k}={v}" for k, v in shift.items()).replace("[", "").replace("]", ""))
    return r


def _suite_run(path: Path, seed: int, train: float, test: float, hard: float) -> Path:
    write_run(path, seed=seed)
    run = RunDir.open(path)
    run.save_eval(_result("train", train, 0.5))
    run.save_eval(_result("test", test, 0.4))
    run.save_eval(_result("test", hard, 0.3, {"distribution_mode": "hard"}))
    return path


def test_no_gap_between_results_of_different_model_steps(tmp_path):
    """Held-out evaluated at the newest step, train only at an older one: a gap would mix
    what training changed with what the split changes, so none is shown (one run or a group)."""
    runs = []
    for i in range(2):
        d = tmp_path / f"r{i}"
        write_run(d, seed=i)
        RunDir.open(d).save_eval(_result("train", 10.0, 0.5, step=STEP // 2))
        RunDir.open(d).save_eval(_result("test", 4.0 + i, 0.4))
        runs.append(d)
    one = generalisation_table(collect(runs[:1]).runs)
    assert list(one["setting"]) == ["train", "held-out"] and math.isnan(one.iloc[1]["gap_train"])
    group = generalisation_table(collect(runs).runs)
    assert group.iloc[1]["return"] == pytest.approx(4.5) and math.isnan(group.iloc[1]["gap_train"])
    RunDir.open(runs[0]).save_eval(_result("train", 9.0, 0.5))  # the same step: a gap again
    one = generalisation_table(collect(runs[:1]).runs)
    assert one.iloc[1]["gap_train"] == pytest.approx(5.0)


def test_setting_names():
    assert setting_of(_result("train", 1, 0)) == "train"
    assert setting_of(_result("test", 1, 0)) == "held-out"
    assert setting_of(_result("test", 1, 0, {"distribution_mode": "hard", "use_backgrounds": True})) == \
        "held-out, distribution_mode=hard, use_backgrounds=true"
    assert setting_of(_result("train", 1, 0, {"levels": [1000, 500]})) == "levels 1000+500"


def test_one_run_normal_intervals_and_gaps(tmp_path):
    d = _suite_run(tmp_path / "a", 0, train=10.0, test=7.0, hard=3.0)
    # an older model's evaluation and a greedy one are not the table's
    RunDir.open(d).save_eval(_result("test", 99.0, 0.1, step=STEP // 2))
    RunDir.open(d).save_eval(_result("test", 55.0, 0.1, greedy=True))
    t = generalisation_table(collect([d]).runs)
    assert list(t["setting"]) == ["train", "held-out", "held-out, distribution_mode=hard"]
    train, held, hard = (t.iloc[i] for i in range(3))
    assert held["return"] == 7.0 and math.isclose(held["return_lo"], 7.0 - Z95 * 0.4)
    assert held["levels"] == "20+100000" and train["levels"] == "0+20"
    assert math.isnan(train["gap_train"]) and math.isnan(held["gap_held_out"])
    assert math.isnan(train["gap_held_out"])  # train is not a shift of the held-out levels
    assert held["gap_train"] == 3.0
    half = Z95 * math.sqrt(0.5**2 + 0.4**2)
    assert math.isclose(held["gap_train_lo"], 3.0 - half) and math.isclose(held["gap_train_hi"], 3.0 + half)
    assert hard["gap_train"] == 7.0 and hard["gap_held_out"] == 4.0
    assert math.isclose(hard["gap_held_out_hi"], 4.0 + Z95 * math.sqrt(0.4**2 + 0.3**2))


def test_group_of_seeds_bootstraps_over_runs_and_pairs_the_gaps(tmp_path):
    a = _suite_run(tmp_path / "s0", 0, train=10.0, test=6.0, hard=2.0)
    b = _suite_run(tmp_path / "s1", 1, train=14.0, test=9.0, hard=5.0)
    t = generalisation_table(collect([a, b]).runs)
    assert len(t) == 3 and set(t["runs"]) == {2}
    held = t[t["setting"] == "held-out"].iloc[0]
    assert held["return"] == 7.5 and held["return_lo"] == 6.0 and held["return_hi"] == 9.0
    assert held["gap_train"] == 4.5 and held["gap_train_lo"] == 4.0 and held["gap_train_hi"] == 5.0  # per-run gaps 4, 5
    assert math.isnan(t[t["setting"] == "train"].iloc[0]["gap_held_out"])
    hard = t[t["setting"] == "held-out, distribution_mode=hard"].iloc[0]
    assert hard["gap_held_out"] == 4.0 and hard["gap_held_out_lo"] == 4.0 and hard["gap_held_out_hi"] == 4.0
    per_run = generalisation_table(collect([a, b]).runs, per_run=True)
    assert len(per_run) == 6


def _sample_result(returns: np.ndarray, seed: int, step: int = STEP) -> dict:
    r = _result("test", float(returns.mean()), float(returns.std(ddof=1) / math.sqrt(returns.size)),
                step=step, episodes=returns.size)
    return dict(r, seed=seed, normalized_return=float(returns.mean()) / 10,
                min_return=float(returns.min()), max_return=float(returns.max()))


def test_evaluations_with_other_seeds_are_pooled_as_one_sample(tmp_path):
    d = write_run(tmp_path / "a")
    run = RunDir.open(d)
    rng = np.random.default_rng(3)
    samples = [rng.normal(loc, 2.0, size=n) for loc, n in ((5.0, 16), (8.0, 16), (6.0, 32))]
    for seed, x in enumerate(samples):
        run.save_eval(_sample_result(x, seed))
    run.save_eval(_sample_result(samples[0][:4], 0))  # the same seed's shorter evaluation: not pooled again
    run.save_eval(_sample_result(rng.normal(50.0, 1.0, size=64), 5, step=STEP // 2))  # an older model: left out
    every = np.concatenate(samples)
    held = generalisation_table(collect([d]).runs).iloc[0]
    assert held["setting"] == "held-out" and held["episodes"] == 64 and held["runs"] == 1
    assert math.isclose(held["return"], every.mean())
    half = Z95 * every.std(ddof=1) / math.sqrt(every.size)
    assert math.isclose(held["return_lo"], every.mean() - half) and math.isclose(held["return_hi"], every.mean() + half)
    pooled = latest_results(run.evals())["held-out"]
    assert pooled["seeds"] == [0, 1, 2] and math.isclose(pooled["normalized_return"], every.mean() / 10)
    assert pooled["min_return"] == every.min() and pooled["max_return"] == every.max()


def test_pooling_edge_cases():
    a = dict(_result("test", 4.0, 1.0, episodes=32), seed=0)
    b = dict(_result("test", 6.0, 1.0, episodes=64), seed=1)
    one = dict(_result("test", 9.0, math.nan, episodes=1), seed=2)  # one episode: no s.e., still pooled
    pooled = pool([a, b, one])
    assert pooled["episodes"] == 97 and math.isclose(pooled["mean_return"], (4 * 32 + 6 * 64 + 9) / 97)
    assert math.isfinite(pooled["stderr"])
    no_se = dict(b, stderr=None)  # an s.e. that cannot be read: pooled would be wrong, so the largest is kept
    assert pool([a, no_se]) is no_se
    no_count = dict(a, episodes=None)
    assert pool([no_count, b]) is b


def test_no_evaluations_no_rows(tmp_path):
    assert len(generalisation_table(collect([write_run(tmp_path / "a")]).runs)) == 0


@pytest.mark.parametrize("fmt", ["terminal", "md"])
def test_compare_prints_the_table_after_the_summary(tmp_path, capsys, fmt):
    d = _suite_run(tmp_path / "a", 0, train=10.0, test=7.0, hard=3.0)
    csv = tmp_path / "gen.csv"
    assert main(["compare", str(d), "--table", fmt, "--generalisation-csv", str(csv)]) == 0
    out = capsys.readouterr().out
    summary_at, table_at = out.index("gap (train-test)"), out.index("gap to held-out")
    assert summary_at < table_at
    line = next(ln for ln in out.splitlines() if "distribution_mode=hard" in ln)
    assert "3.00 [" in line and "7.00 [" in line and "4.00 [" in line  # return, gap to train, gap to held-out
    assert csv.read_text().splitlines()[0].startswith("unit,setting,levels")
    assert render_generalisation(generalisation_table(collect([d]).runs), "csv") == csv.read_text()


def test_report_has_the_generalisation_section(tmp_path):
    d = _suite_run(tmp_path / "a", 0, train=10.0, test=7.0, hard=3.0)
    page = build_report([d], tmp_path / "rep").read_text()
    section = page.split('<section id="generalisation">')[1].split("</section>")[0]
    assert "held-out, distribution_mode=hard" in section and "gap to train" in section and "4.00 [" in section
    empty = build_report([write_run(tmp_path / "b")], tmp_path / "rep2").read_text()
    assert "--suite generalisation" in empty.split('<section id="generalisation">')[1].split("</section>")[0]
