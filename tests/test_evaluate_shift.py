"""Evaluation under distribution shift: --set env.*, --levels START:COUNT, --suite generalisation."""

from __future__ import annotations

import json
import shutil

import pytest

import rlsight.evaluation as E
from rlsight import config as C
from rlsight.cli.main import main
from rlsight.errors import RlsightError
from rlsight.runs import RunDir
from rlsight.shift import apply_shift, parse_levels, setting_label
from tests.atari_helpers import needs_ale


@pytest.fixture
def run(tiny_run, tmp_path):
    """A copy of the shared tiny run without the evaluations other tests saved into it."""
    copy = shutil.copytree(tiny_run, tmp_path / "run")
    shutil.rmtree(copy / "eval", ignore_errors=True)
    return copy


@pytest.fixture
def made_envs(monkeypatch):
    """Records every environment the evaluation makes, and the level seeds it played."""
    made = []

    def recording_make_env(cfg, split, n, seed=0):
        env = real(cfg, split, n, seed=seed)
        step = env.step

        def step_and_record(actions):
            out = step(actions)
            env.seen_levels.update(int(i["level_seed"]) for i in env.info())
            return out

        env.seen_levels, env.step = set(), step_and_record
        made.append(env)
        return env

    real = E.make_env
    monkeypatch.setattr(E, "make_env", recording_make_env)
    return made


def test_shifted_settings_and_levels_reach_the_environment(run, made_envs):
    plain = E.evaluate(run, split="test", episodes=4)
    r = E.evaluate(run, episodes=4, env_set=["env.distribution_mode=hard", "env.use_backgrounds=false"],
                   levels=(1000, 5))
    env = made_envs[-1]
    assert (env.cfg.distribution_mode, env.cfg.use_backgrounds) == ("hard", False)
    assert (env.levels.start_level, env.levels.num_levels) == (1000, 5)
    assert env.seen_levels and env.seen_levels <= set(range(1000, 1005))
    assert made_envs[0].cfg.distribution_mode == "easy" and min(made_envs[0].seen_levels) >= 20
    # the tiny run trained with backgrounds (the default), so both settings differ from it
    assert r["shift"] == {"distribution_mode": "hard", "use_backgrounds": False, "levels": [1000, 5]}
    assert (r["split"], r["start_level"], r["num_levels"], r["distribution_mode"]) == ("levels", 1000, 5, "hard")
    assert r["file"] != plain["file"] and "shift" not in plain  # both kept on disk
    assert sorted(str(e.get("setting")) for e in RunDir.open(run).evals()) == sorted(["None", r["setting"]])
    assert RunDir.open(run).config().env.distribution_mode == "easy"  # the run's own config is untouched


def test_a_setting_equal_to_the_runs_is_no_shift(run):
    cfg = RunDir.open(run).config()
    same, changed = apply_shift(cfg, ["env.distribution_mode=easy"])
    assert changed == {} and same.env == cfg.env
    _, changed = apply_shift(cfg, None, (0, 0))
    assert changed == {"levels": [0, 0]} and setting_label(changed) == "levels=0+0"
    inside, _ = apply_shift(cfg, None, (5, 3))  # a part of the training levels is allowed
    assert (inside.env.start_level, inside.env.num_levels) == (5, 3)


@pytest.mark.parametrize("bad,message", [
    (["env.game=coinrun"], "--set env.game: a shift of an env.family = 'procgen' run can change only env.distribution_mode, env.use_backgrounds"),
    (["model.encoder=impala"], "--set model.encoder: a shift of an env.family = 'procgen' run can change only"),
    (["env.distribution_mode=medium"], "env.distribution_mode = 'medium': valid modes: easy, hard"),
    (["env.use_backgrounds=maybe"], "env.use_backgrounds"),
    (["env.distribution_mode"], "expected key=value"),
])
def test_bad_shift_settings_are_one_line_errors(run, bad, message):
    with pytest.raises(RlsightError, match=message.replace("(", r"\(").replace(".", r"\.")) as e:
        apply_shift(RunDir.open(run).config(), bad)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text", ["1000", "a:5", "-1:5", "5:-1", "1:2:3", "", "2147483647:1"])
def test_bad_levels_are_refused(text):
    with pytest.raises(RlsightError, match="give START:COUNT"):
        parse_levels(text)


def test_levels_parse():
    assert parse_levels("1000:500") == (1000, 500) and parse_levels("0:0") == (0, 0)
    with pytest.raises(RlsightError, match="COUNT 0 plays every level seed, from 0"):
        parse_levels("7:0")  # procgen ignores the start when the count is 0
    with pytest.raises(RlsightError, match="--levels '7:0': COUNT 0 plays every level seed"):
        apply_shift(C.load("cpu-quick"), levels=(7, 0))  # evaluate(levels=...) from Python


def test_cli_suite_generalisation_prints_the_table_and_saves_each_setting(run, capsys, made_envs):
    assert main(["evaluate", str(run), "--suite", "generalisation", "--episodes", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["setting", "levels"]
    names = [line.split("  ")[0] for line in out[1:]]
    assert names == ["train", "held-out", "held-out, hard", "held-out, backgrounds off"]
    settings = [(e.cfg.distribution_mode, e.cfg.use_backgrounds, e.levels.start_level) for e in made_envs]
    assert settings == [("easy", True, 0), ("easy", True, 20), ("hard", True, 20), ("easy", False, 20)]
    assert float(out[1].split()[-1]) == 0.0  # the gap of the training levels to themselves
    assert len(RunDir.open(run).evals()) == 4


def test_cli_shift_and_its_bad_input(run, capsys):
    assert main(["evaluate", str(run), "--episodes", "2", "--levels", "300:3",
                 "--set", "env.use_backgrounds=false", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["setting"] == "use_backgrounds=false,levels=300+3" and r["start_level"] == 300
    assert main(["evaluate", str(run), "--suite", "generalisation", "--levels", "0:1"]) == 2
    assert "--suite sets its own levels" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--set", "env.num_envs=4"]) == 2
    assert "run can change only" in capsys.readouterr().err


# -- Atari: flavours and sticky actions instead of levels and modes -----------------------------
def test_atari_shifts_are_flavours_and_sticky_actions():
    from tests.atari_helpers import tiny_atari_config

    cfg = tiny_atari_config("Breakout")
    shifted, changed = apply_shift(cfg, ["env.difficulty=1", "env.game_mode=12", "env.sticky_actions=0"])
    assert changed == {"game_mode": 12, "difficulty": 1, "sticky_actions": 0.0}
    assert (shifted.env.game_mode, shifted.env.difficulty, cfg.env.game_mode) == (12, 1, 0)
    with pytest.raises(RlsightError, match=r"^--levels: a Procgen option; env.family = 'atari' has no levels"):
        apply_shift(cfg, None, (0, 5))
    with pytest.raises(RlsightError, match=r"^--set env.distribution_mode: a shift of an env.family = 'atari' run "
                                           r"can change only env.game_mode, env.difficulty, env.sticky_actions$"):
        apply_shift(cfg, ["env.distribution_mode=hard"])
    with pytest.raises(RlsightError, match="env.game_mode = 3: Breakout has the modes 0, 4, 8"):
        apply_shift(cfg, ["env.game_mode=3"])


def test_atari_suite_plays_the_next_difficulty_and_mode_the_game_has():
    from rlsight.shift import generalisation_suite
    from tests.atari_helpers import tiny_atari_config

    def suite(game, **env):
        return [(e.name, e.split, e.env_set) for e in generalisation_suite(tiny_atari_config(game, **env).env)]

    assert suite("Pong") == [("train", "train", []), ("held-out", "test", []),
                             ("held-out, difficulty 1", "test", ["env.difficulty=1"]),
                             ("held-out, game mode 1", "test", ["env.game_mode=1"])]
    assert suite("Breakout", env__game_mode=44, env__difficulty=1)[2:] == [
        ("held-out, difficulty 0", "test", ["env.difficulty=0"]), ("held-out, game mode 0", "test", ["env.game_mode=0"])]
    assert [name for name, *_ in suite("Assault")] == ["train", "held-out"]  # one flavour only


def test_sticky_actions_shift_is_refused_on_the_training_protocol(monkeypatch, tmp_path):
    from tests.atari_helpers import tiny_atari_config

    cfg = tiny_atari_config()
    run = RunDir.create(tmp_path / "atari", cfg)
    monkeypatch.setattr(E, "load_policy", lambda run, device: (None, cfg, 0))
    monkeypatch.setattr(E, "make_env", lambda *a, **k: pytest.fail("no environment may be made"))
    with pytest.raises(RlsightError, match=r"^--set env.sticky_actions: a setting of the evaluation protocol"):
        E.evaluate(run, split="train", episodes=1, env_set=["env.sticky_actions=0"])
    assert not (tmp_path / "atari" / "eval").exists()


# -- a random policy's floor --------------------------------------------------------------------
def test_uniform_policy_samples_every_action_alike():
    import numpy as np
    import torch

    from rlsight.models.sampling import sample_actions

    torch.manual_seed(0)
    logits, value = E.UniformPolicy(6)(torch.zeros(6000, 84, 84, 4, dtype=torch.uint8))
    counts = np.bincount(sample_actions(logits).numpy(), minlength=6)
    assert value.abs().sum() == 0 and counts.min() > 850 and counts.max() < 1150, counts


@needs_ale
def test_random_evaluation_needs_no_weights_and_stays_out_of_the_table(tmp_path):
    from rlsight.analysis import collect, generalisation_table
    from tests.atari_helpers import tiny_atari_config

    run = RunDir.create(tmp_path / "untrained", tiny_atari_config())  # no model file at all
    r = E.evaluate(run, episodes=2, random=True, max_envs=2)
    assert (r["policy"], r["step"], r["episodes"]) == ("random", 0, 2)
    assert -21 <= r["mean_return"] <= -15  # random Pong loses nearly every point (published random: -20.7)
    assert r["file"].endswith("-random.json") and r["normalized_return"] == pytest.approx((r["mean_return"] + 20.7) / 35.3)
    assert len(generalisation_table(collect([tmp_path / "untrained"]).runs)) == 0  # a floor, not the model's result
    with pytest.raises(RlsightError, match="--random with --greedy"):
        E.evaluate(run, episodes=2, random=True, greedy=True)


def test_sticky_actions_shift_is_refused_where_the_training_protocol_plays():
    # rlsight saliency plays the train split, whose sticky actions are env.train_sticky_actions
    from tests.atari_helpers import tiny_atari_config

    with pytest.raises(RlsightError, match=r"^--set env.sticky_actions: a setting of the evaluation protocol"):
        apply_shift(tiny_atari_config(), ["env.sticky_actions=0"], plays="train")
    assert apply_shift(tiny_atari_config(), ["env.sticky_actions=0"])[1] == {"sticky_actions": 0.0}
