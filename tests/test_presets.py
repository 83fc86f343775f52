"""Presets ship inside the package; old names and old configs/ paths still resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsight import config as C
from rlsight import presets
from rlsight.errors import ConfigError
from rlsight.sweep.spec import load_sweep

REPO = Path(__file__).resolve().parent.parent


def test_presets_live_in_the_package():
    assert presets.names() == ["atari-cleanrl", "atari-cpu-60min", "cpu-30min", "cpu-30min-bossfight", "cpu-quick", "original-baseline", "original-best", "procgen-paper"]
    path = C.resolve_config_path("cpu-quick")
    assert path.parent == Path(C.__file__).resolve().parents[1] / "presets"  # rlsight/presets/


def test_preset_names_resolve_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert C.load("cpu-quick").train.total_steps == 573_440


def test_the_bossfight_recipe_is_cpu_30min_with_impala_and_nothing_else_unsaid():
    """Its comment says "the rest is cpu-30min": these are the only keys that differ."""
    base, boss = C.load("cpu-30min").flat(), C.load("cpu-30min-bossfight").flat()
    assert {k: boss[k] for k in boss if boss[k] != base[k]} == {
        "env.game": "bossfight", "env.penalize_on_death": True, "model.encoder": "impala",
        "ppo.anneal_over": "time", "train.total_steps": 10_000_000, "train.autocast": "bf16"}
    assert boss["train.max_minutes"] == 30 and boss["model.impala_channels"] == [16, 32, 32]


@pytest.mark.parametrize("old,new", [("seed-baseline", "original-baseline"), ("seed-best", "original-best")])
def test_old_preset_names_are_aliases_that_say_where_they_went(old, new, capsys):
    assert C.load(old) == C.load(new)
    err = capsys.readouterr().err
    assert f"{old!r} is now the preset {new!r}" in err


def test_old_configs_path_resolves_to_the_preset(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no configs/ here
    assert C.load("configs/cpu-30min.toml") == C.load("cpu-30min")
    assert "'configs/cpu-30min.toml' is now the preset 'cpu-30min'" in capsys.readouterr().err
    assert C.load("configs/seed-best.toml") == C.load("original-best")


def test_a_file_of_the_same_name_wins_over_the_preset(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "cpu-quick.toml").write_text("[train]\ntotal_steps = 4096\n")
    assert C.load("configs/cpu-quick.toml").train.total_steps == 4096
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name", ["no-such-preset", "../presets/cpu-quick", "presets/cpu-quick", "", "configs/nope.toml"])
def test_unknown_names_are_refused_with_the_list(name):
    with pytest.raises(ConfigError, match=r"not found: give a TOML file or a preset \(atari-cleanrl, atari-cpu-60min, cpu-30min, cpu-30min-bossfight, cpu-quick, original-baseline"):
        C.resolve_config_path(name)


@pytest.mark.parametrize("sweep", sorted((REPO / "configs" / "sweeps").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_sweep_files_load_with_their_preset_base(sweep):
    spec = load_sweep(sweep)
    assert spec.base_source == "cpu-quick"
    assert spec.base.model.encoder == C.load("cpu-quick").model.encoder


@pytest.mark.parametrize("name", ["atari-cleanrl", "atari-cpu-60min"])
def test_atari_presets_load_as_atari_runs_with_cleanrl_hyperparameters(name):
    c = C.load(name)
    assert (c.env.family, c.env.game, c.env.num_envs, c.ppo.num_steps, c.ppo.num_epochs) == ("atari", "Pong", 8, 128, 4)
    assert c.env.num_envs * c.ppo.num_steps // c.ppo.batch_size == 4  # 4 minibatches
    assert (c.ppo.lr, c.ppo.anneal_lr, c.ppo.clip_eps, c.ppo.entropy_coef, c.model.encoder) == (2.5e-4, True, 0.1, 0.01, "nature")
    assert c.model.init == "orthogonal"  # CleanRL's layer_init


def test_atari_cpu_60min_is_the_first_hour_of_atari_cleanrl_with_bf16_and_sticky_actions():
    base, hour = C.load("atari-cleanrl").flat(), C.load("atari-cpu-60min").flat()
    differ = {k: (base[k], hour[k]) for k in base if base[k] != hour[k]}
    assert differ == {"env.num_test_envs": (0, 2), "train.max_minutes": (0, 60), "train.autocast": ("off", "bf16"),
                      "train.save_step": (500_000, 250_000), "env.train_sticky_actions": (0.0, 0.25)}
