"""An Atari run end to end on a CPU: training, SIGKILL and exact resume, evaluation with
the Machado et al. protocol, saliency (every method; the stack frame perturbed) and the
faithfulness check with its randomisation test."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rlsight.runs import RunDir
from rlsight.training import train
from tests.atari_helpers import needs_ale, tiny_atari_config
from tests.resume_helpers import sigkill_then_resume

pytestmark = [needs_ale, pytest.mark.slow]


@pytest.fixture(scope="module")
def atari_run(tmp_path_factory):
    """A finished tiny Pong run (six updates), and its config."""
    cfg = tiny_atari_config()
    path = tmp_path_factory.mktemp("atari") / "ref"
    train(cfg, path, progress=False)
    return path, cfg


def test_sigkill_then_resume_matches_uninterrupted(atari_run, tmp_path):
    ref_path, cfg = atari_run
    ref = RunDir.open(ref_path).metrics()
    sigkill_then_resume(cfg, ref, tmp_path, min_rows=3)


def test_evaluate_reports_the_score_and_the_human_normalised_score(atari_run):
    from rlsight.evaluation import evaluate

    res = evaluate(atari_run[0], episodes=1, save=False, max_envs=1)
    assert res["game"] == "Pong" and res["episodes"] == 1 and res["protocol"].startswith("Machado et al. 2018: sticky actions 0.25")
    assert -21 <= res["mean_return"] <= 21  # a whole game of Pong: unclipped score, ends at 21 points
    assert res["normalized_return"] == pytest.approx((res["mean_return"] + 20.7) / (14.6 + 20.7))
    assert not {"start_level", "num_levels", "distribution_mode"} & set(res)  # Procgen's level fields: not Atari's
    train_split = evaluate(atari_run[0], split="train", episodes=1, save=False, max_envs=1)
    assert train_split["protocol"].startswith("training: no-op starts") and "sticky actions 0.0 " in train_split["protocol"]


def test_evaluate_prints_the_protocol_not_levels(atari_run):
    out = subprocess.run([sys.executable, "-m", "rlsight.cli.main", "evaluate", str(atari_run[0]), "--episodes", "1"],
                         capture_output=True, text=True, check=True).stdout
    assert "(Machado et al. 2018)" in out and "levels" not in out, out


def test_generalisation_suite_plays_the_other_flavours_and_compare_tables_them(atari_run, tmp_path, capsys):
    import shutil

    from rlsight.analysis import collect, generalisation_table
    from rlsight.cli.main import main

    run = shutil.copytree(atari_run[0], tmp_path / "run")
    shutil.rmtree(run / "eval", ignore_errors=True)
    assert main(["evaluate", str(run), "--suite", "generalisation", "--episodes", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["setting", "flavour"]
    rows = [line.split("  ")[0] for line in out[1:]]
    assert rows == ["train", "held-out", "held-out, difficulty 1", "held-out, game mode 1"]
    assert [line.split()[-7] for line in out[1:]] == ["m0d0", "m0d0", "m0d1", "m1d0"]
    evals = {str(e.get("setting")): e for e in RunDir.open(run).evals()}
    assert set(evals) == {"None", "difficulty=1", "game_mode=1"}  # train and held-out have no shift
    assert (evals["difficulty=1"]["difficulty"], evals["game_mode=1"]["game_mode"]) == (1, 1)
    assert evals["difficulty=1"]["normalized_return"] is None  # no published scores for other flavours
    table = generalisation_table(collect([run]).runs)
    assert list(table["setting"]) == ["train", "held-out", "held-out, difficulty=1", "held-out, game_mode=1"]
    assert list(table["levels"]) == ["m0d0", "m0d0", "m0d1", "m1d0"]  # Atari has flavours, not levels


def test_saliency_every_method_on_stacked_frames(atari_run):
    from rlsight.explain.saliency import record
    from rlsight.explain.saliency.methods import METHODS

    for method in METHODS:
        res = record([atari_run[0]], frames=2, method=method, target="both")
        for t in ("actor", "critic"):
            m = res.maps[0][t]
            assert m.shape[0] == 2 and m.shape[-2:] == (84, 84) and np.isfinite(m.numpy()).all(), method
        assert res.frames.ndim == 4 and res.frames.shape[-1] == 3
    assert res.trajectories[0].renders.shape[1:] == (210, 160, 3)  # the full-colour game screen under the map


def test_saliency_under_a_shift_plays_the_other_flavour(atari_run, tmp_path, capsys):
    from rlsight.cli.main import main
    from rlsight.explain.saliency import record

    own = record([atari_run[0]], frames=40, method="gradient", target="actor", seed=3)
    other = record([atari_run[0]], frames=40, method="gradient", target="actor", seed=3, env_set=["env.game_mode=1"])
    assert own.settings["shift"] == {} and other.settings["shift"] == {"game_mode": 1}
    assert not np.array_equal(own.trajectories[0].renders, other.trajectories[0].renders)
    again = record([atari_run[0]], frames=40, method="gradient", target="actor", seed=3)
    np.testing.assert_array_equal(own.trajectories[0].renders, again.trajectories[0].renders)
    assert main(["saliency", str(atari_run[0]), "--frames", "2", "--method", "gradient", "--set", "env.difficulty=1",
                 "--out", str(tmp_path)]) == 0
    (video,) = tmp_path.iterdir()
    assert "difficulty=1" in video.name and "(difficulty=1)" in capsys.readouterr().out
    assert main(["saliency", str(atari_run[0]), "--frames", "2", "--set", "env.num_levels=5", "--out", str(tmp_path)]) == 2
    assert "can change only env.game_mode" in capsys.readouterr().err and len(list(tmp_path.iterdir())) == 1


def test_saliency_on_another_game_of_the_family(atari_run, tmp_path, capsys):
    """``--game`` takes the run's family's games (not Procgen's), with the same action set,
    and a shift is checked against that game's flavours, not the run's."""
    from rlsight.cli.main import main

    run = str(atari_run[0])
    assert main(["saliency", run, "--game", "SpaceInvaders", "--set", "env.game_mode=15", "--frames", "2",
                 "--method", "gradient", "--out", str(tmp_path)]) == 0  # Pong has modes 0, 1; SpaceInvaders 0-15
    assert "gradient on SpaceInvaders (game_mode=15)" in capsys.readouterr().out
    for game, says in (("Breakout", "game 'Breakout': its actions (noop, fire, right, left) are not those of the run's Pong"),
                       ("Qbert", "game 'Qbert': its actions (noop, fire, up, right, left, down) are not those"),  # also 6
                       ("starpilot", "unknown game 'starpilot'; valid: Alien")):
        assert main(["saliency", run, "--game", game, "--frames", "2", "--out", str(tmp_path)]) == 2
        assert says in capsys.readouterr().err
    assert main(["saliency", run, "--set", "env.game_mode=15", "--frames", "2", "--out", str(tmp_path)]) == 2
    assert "Pong has the modes 0, 1" in capsys.readouterr().err
    assert len(list(tmp_path.iterdir())) == 1


def test_perturbation_says_which_stack_frame_it_blurs(atari_run):
    from rlsight.explain.saliency import MethodOptions, record

    res = record([atari_run[0]], frames=1, method="perturbation", target="critic")
    assert res.settings["stack_frame"] == -1  # the newest, by default on an Atari run
    res = record([atari_run[0]], frames=1, method="perturbation", target="critic",
                 method_options=MethodOptions(stack_frame=0))
    assert res.settings["stack_frame"] == 0


def test_saliency_check_with_randomisation_on_an_atari_run(atari_run):
    out = subprocess.run([sys.executable, "-m", "rlsight.cli.main", "saliency-check", str(atari_run[0]), "--quick",
                          "--frames", "8", "--method", "perturbation,gradient", "--json", "-"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "random" in out.stdout.lower()


def test_report_explorer_pages_of_an_atari_run(atari_run, tmp_path):
    """The explorer plays the Atari run (no levels: level 0, not Procgen's first held-out
    level) and shows the newest frame of each stack under its maps."""
    import json
    import re

    from PIL import Image

    from rlsight.report import build_report
    from rlsight.report.explorer import ExploreOptions

    index = build_report([atari_run[0]], tmp_path / "rep",
                         explore=ExploreOptions(steps=4, methods=("gradient", "perturbation")))
    html = (index.parent / "explore" / "run0.html").read_text()
    data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', html, re.S).group(1))
    assert data["level"] == 0 and data["levels"] is False and "the training protocol" in html
    frame = Image.open(index.parent / "explore" / data["frames"] / "00000.webp")
    assert frame.mode == "RGB" and frame.size == (84, 84)
    assert {o["method"] for o in data["runs"][0]["overlays"]} == {"gradient", "perturbation"}
