"""Atari runs through the sweep, compare, report and jobscript commands, as Procgen runs go."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rlsight.cli.main import main
from rlsight.config import load as load_config
from rlsight.sweep import load
from tests.atari_helpers import needs_ale, tiny_atari_config

pytestmark = [needs_ale]


@pytest.mark.slow
def test_grid_sweep_of_atari_trials_then_best_compare_and_report(tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text(tiny_atari_config().to_toml())
    f = tmp_path / "sweep.toml"
    f.write_text('base = "tiny.toml"\n' + textwrap.dedent("""
        strategy = "grid"
        [params]
        "ppo.lr" = [1e-4, 1e-3]
        [objective]
        metric = "test_reward_rate"
        last_fraction = 0.5
        """))
    d = tmp_path / "sw"
    assert main(["sweep", "run", str(f), "--dir", str(d)]) == 0
    spec, recs = load(d)
    assert sorted(r.params["ppo.lr"] for r in recs) == [1e-4, 1e-3]
    assert all(r.state == "COMPLETE" for r in recs), [(r.number, r.state, r.error) for r in recs]
    runs = sorted((d / "trials").glob("*/seed0"))
    assert len(runs) == 2
    for run in runs:
        cfg = load_config(run / "config.toml")
        assert (cfg.env.family, cfg.env.game) == ("atari", "Pong")

    best = tmp_path / "best.toml"
    assert main(["sweep", "best", str(d), "--out", str(best)]) == 0
    cfg = load_config(best)
    assert cfg.env.family == "atari" and cfg.ppo.lr in (1e-4, 1e-3)

    capsys.readouterr()
    assert main(["compare", *map(str, runs), "--metric", "test_reward_rate", "--out", str(tmp_path / "c.png")]) == 0
    table = capsys.readouterr().out
    assert "ppo.lr" in table  # the key that differs between the two runs
    out = tmp_path / "report"
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert "Pong" in page


@pytest.mark.slow
def test_jobscript_for_an_atari_config_trains_then_says_finished(tmp_path):
    cfg = tmp_path / "pong.toml"
    cfg.write_text(tiny_atari_config().to_toml())
    run = tmp_path / "pong-run"
    job = tmp_path / "job.sh"
    assert main(["jobscript", "--config", str(cfg), "--run-dir", str(run), "--out", str(job)]) == 0
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    first = subprocess.run(["bash", str(job)], env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    meta = json.loads((run / "rlsight-run.json").read_text())
    assert meta["status"] == "finished"
    assert load_config(run / "config.toml").env.family == "atari"
    again = subprocess.run(["bash", str(job)], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "already finished" in again.stdout
