"""Config loading, overrides and validation errors."""

from __future__ import annotations

import re

import pytest

from rlsight import config as C
from rlsight.errors import ConfigError


def test_presets_load_and_roundtrip():
    for name in ("cpu-quick", "cpu-30min", "procgen-paper", "original-baseline", "original-best"):
        cfg = C.load(name)
        assert C.loads(cfg.to_toml()) == cfg


def test_procgen_paper_preset_matches_the_paper():
    c = C.load("procgen-paper")
    assert (c.model.encoder, c.model.impala_channels, c.env.num_envs, c.env.num_levels) == ("impala", [16, 32, 32], 64, 200)
    assert (c.ppo.lr, c.ppo.gamma, c.ppo.gae_lambda, c.ppo.num_steps, c.ppo.num_epochs) == (5e-4, 0.999, 0.95, 256, 3)
    assert c.env.num_envs * c.ppo.num_steps // c.ppo.batch_size == 8
    assert c.ppo.use_clipped_value and c.ppo.normalize_reward and c.train.total_steps == 25_000_000


def test_every_original_hyperparameter_has_a_documented_key():
    documented = {k for k, doc, _ in C.describe() if doc}
    originals = ["total_steps", "num_envs", "num_steps", "num_epochs", "n_features", "batch_size", "grad_eps",
                 "value_coef", "entropy_coef", "save_step", "normalize_reward", "eps", "use_backgrounds", "lr",
                 "gamma", "use_impala", "num_levels", "use_clipped_value", "penalize_on_death", "game"]
    docs = " ".join(doc for _, doc, _ in C.describe())
    for name in originals:
        assert f"original: {name})" in docs, name
    assert len(documented) == len(C.all_keys())


def test_set_overrides_are_typed():
    cfg = C.load("cpu-quick", ["ppo.lr=3e-4", "env.game=coinrun", "env.use_backgrounds=false", "model.impala_channels=[8, 16]"])
    assert cfg.ppo.lr == 3e-4 and cfg.env.game == "coinrun" and cfg.env.use_backgrounds is False
    assert cfg.model.impala_channels == [8, 16]


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("ppo.lrr=1", "did you mean 'ppo.lr'"),
        ("env.gmae=coinrun", "did you mean 'env.game'"),
        ("ppo.lr=-1", "ppo.lr = -1.0: must be > 0"),
        ("ppo.lr=abc", "expected a number"),
        ("ppo.lr=inf", "ppo.lr = inf: Input should be a finite number"),
        ("train.mlflow_tracking_uri=notaurl", "train.mlflow_tracking_uri = 'notaurl': give a URI of sqlite,"),
        ("env.death_penalty=nan", "env.death_penalty = nan: Input should be a finite number"),
        ("ppo.clip_eps=-inf", "Input should be a finite number"),
        ("env.num_envs=0", "env.num_envs = 0: must be >= 1"),
        ("env.num_envs=2.5", "expected an integer"),
        ("ppo.batch_size=1000", "must divide env.num_envs*ppo.num_steps = 8192"),
        ("env.game=pong", "not a game of env.family = 'procgen'; Pong is a game of env.family = 'atari'"),
        ("env.game=starpiolt", "nearest: starpilot"),
        ("env.distribution_mode=insane", "valid modes: easy, hard"),
        ("env.distribution_mode=memory", "starpilot has only easy, hard, extreme"),
        ("env.game=maze env.distribution_mode=exploration", "not procgen's exploration mode: it plays one fixed level"),
        ("model.encoder=resnet", "valid encoders: impala, nature"),
        ("ppo.gamma=1.5", "must be in (0, 1]"),
        ("env.test_start_level=100", "overlap the training levels"),
        ("env.use_backgrounds=maybe", "expected true or false"),
        ("ppo.lr", "expected key=value"),
        ("ppo.anneal_over=wallclock", "valid: steps, time"),
        ("train.max_minutes=0 ppo.anneal_over=time", "needs train.max_minutes > 0"),
        ("ppo.anneal_lr=false ppo.anneal_over=time", "has no effect without ppo.anneal_lr = true"),
    ],
)
def test_bad_values_are_named(override, fragment):
    with pytest.raises(ConfigError) as e:
        C.load("cpu-quick", override.split(" "))
    assert fragment in str(e.value)


@pytest.mark.parametrize("keys,message", [
    (["env.num_levels=0"], "no level is held out for the held-out curve; set a finite env.num_levels, or env.num_test_envs = 0"),
    # procgen draws from every seed with num_levels = 0, so levels below start_level are not held out either
    (["env.num_levels=0", "env.start_level=1000", "env.test_start_level=0", "env.test_num_levels=1000"],
     "env.start_level = 1000 is ignored"),
    (["env.num_levels=0", "env.start_level=5", "env.num_test_envs=0"], "env.start_level = 5 is ignored; set a finite "
     "env.num_levels, or env.start_level = 0"),
    (["env.num_levels=0", "env.start_level=5"], "so env.start_level = 5 is ignored and no level is held out for the "
     "held-out curve; set a finite env.num_levels, or env.num_test_envs = 0 and env.start_level = 0"),
])
def test_unbounded_levels_hold_nothing_out(tmp_path, keys, message):
    """env.num_levels = 0 trains on every level seed, start_level or not: training refuses a
    held-out curve and a start_level, before the run directory is made (a config, or an old
    run, that has one still loads)."""
    from rlsight.training import train

    bad = C.load("cpu-quick", keys)
    assert bad.env.nothing_held_out()
    with pytest.raises(ConfigError, match=re.escape(message)):
        train(bad, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()
    assert C.load("cpu-quick", ["env.num_levels=0", "env.num_test_envs=0"]).check_trainable() is None  # every level, no curve


def test_unknown_key_in_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[ppo]\nlearning_rate = 1e-3\n")
    with pytest.raises(ConfigError, match="unknown config key 'ppo.learning_rate'"):
        C.load(p)


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="cpu-quick"):
        C.load("no-such-preset")


def test_test_levels_follow_training_levels():
    c = C.Config()
    c.env.start_level, c.env.num_levels = 100, 50
    assert c.env.test_levels() == (150, 100_000)


def test_docs_config_md_is_up_to_date():
    from rlsight.cli.config import markdown
    from tests.conftest import REPO

    assert (REPO / "docs" / "config.md").read_text() == markdown(), "run: rlsight config --markdown > docs/config.md"
