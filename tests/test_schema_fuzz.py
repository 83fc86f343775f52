"""Config and sweep-file parsing under random input (Hypothesis): a valid result or one
line of RlsightError, never a traceback. Wrong types and unknown keys in a run's
config.toml and rlsight-run.json are one-line errors. Removed keys still load."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlsight import config as C
from rlsight.errors import ConfigError, ConfigWarning, RlsightError, RunDirError
from rlsight.runs.rundir import MARKER, RunDir
from rlsight.sweep.spec import SweepSpec, parse
from tests.conftest import tiny_config

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from([0, 1, -1, 0.5, 2.5, 64, "easy", "impala", "auto", "cpu"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)
real_keys = C.all_keys() + list(C.REMOVED_KEYS)
names = st.one_of(st.sampled_from([k.split(".")[1] for k in real_keys]), st.text(max_size=10))
sections = st.one_of(st.sampled_from(list(C.SECTIONS)), st.text(max_size=6))
config_dicts = st.dictionaries(sections, st.one_of(st.dictionaries(names, values, max_size=5), values), max_size=4)


def one_line(e: Exception) -> None:
    assert isinstance(e, RlsightError), repr(e)
    assert str(e) and "\n" not in str(e), str(e)


@FAST
@given(config_dicts)
def test_random_config_tables_load_or_fail_in_one_line(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        try:
            cfg = C.from_dict(data)
        except ConfigError as e:
            one_line(e)
            return
    assert isinstance(cfg, C.Config)
    assert C.loads(cfg.to_toml()) == cfg  # what loads also writes back and reloads the same


@FAST
@given(st.text(max_size=200))
def test_random_toml_text_loads_or_fails_in_one_line(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        try:
            C.loads(text)
        except ConfigError as e:
            one_line(e)


@FAST
@given(st.sampled_from(real_keys + ["ppo", "x.y", "ppo.lr.x", ""]), st.text(max_size=20))
def test_random_overrides_load_or_fail_in_one_line(key, text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        try:
            cfg = C.load("cpu-quick", [f"{key}={text}"])
        except ConfigError as e:
            one_line(e)
            return
    assert isinstance(cfg, C.Config)


sweep_keys = st.sampled_from(["name", "base", "set", "strategy", "order", "seeds", "trials", "direction", "sampler_seed",
                              "params", "objective", "pruner", "storage", "local", "slurm", "train_fn", "seed"])
param_tables = st.dictionaries(st.sampled_from(["ppo.lr", "ppo.num_epochs", "env.game", "ppo", "ppo.lrr"]),
                               st.one_of(st.lists(scalars, max_size=3),
                                         st.fixed_dictionaries({}, optional={
                                             "type": st.sampled_from(["choice", "uniform", "log-uniform", "int", "x"]),
                                             "low": scalars, "high": scalars, "values": st.lists(scalars, max_size=3),
                                             "step": scalars}),
                                         values), max_size=3)
sweep_dicts = st.dictionaries(sweep_keys, values, max_size=6).flatmap(
    lambda d: st.one_of(st.just(d), param_tables.map(lambda p: {**d, "params": p})))


@FAST
@given(sweep_dicts)
def test_random_sweep_files_parse_or_fail_in_one_line(data):
    try:
        spec = parse(data, tiny_config(), "defaults", "fuzz")
    except RlsightError as e:
        one_line(e)
        return
    assert isinstance(spec, SweepSpec) and spec.params


# -- a run directory's own files ---------------------------------------------------------------


@pytest.mark.parametrize("body, fragment", [
    ("[ppo]\nlr = \"fast\"\n", "ppo.lr = 'fast': expected a number"),
    ("[env]\nnum_envs = [8]\n", "env.num_envs = [8]: expected an integer"),
    ("[ppo]\nlearning_rate = 1e-3\n", "unknown config key 'ppo.learning_rate'"),
    ("[trainer]\nseed = 1\n", "unknown config key 'trainer'"),
    ("ppo = 3\n", "[ppo] must be a table of keys"),
    ("[ppo\nlr = 1\n", "not valid TOML"),
])
def test_run_config_with_wrong_types_or_unknown_keys_is_one_line(tmp_path, body, fragment):
    run = RunDir.create(tmp_path / "run", tiny_config())
    (run.path / "config.toml").write_text(body)
    with pytest.raises(RunDirError) as e:
        RunDir.open(run.path).config()
    one_line(e.value)
    assert fragment in str(e.value) and "config.toml" in str(e.value)


@pytest.mark.parametrize("change, fragment", [
    ({"status": 3}, "status = 3"),
    ({"steps": "many"}, "steps = 'many'"),
    ({"config_hash": ["a"]}, "config_hash"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"format_version": "1"}, "format version '1'"),
])
def test_run_marker_with_wrong_types_or_unknown_keys_is_one_line(tmp_path, change, fragment):
    run = RunDir.create(tmp_path / "run", tiny_config())
    marker = json.loads((run.path / MARKER).read_text())
    (run.path / MARKER).write_text(json.dumps({**marker, **change}))
    with pytest.raises(RunDirError) as e:
        RunDir.open(run.path)
    one_line(e.value)
    assert fragment in str(e.value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(marker=st.dictionaries(st.sampled_from(["format_version", "status", "steps", "kind", "x"]), values, max_size=4))
def test_random_run_markers_open_or_fail_in_one_line(tmp_path, marker):
    d = tmp_path  # the same folder each time: only the marker changes
    (d / MARKER).write_text(json.dumps(marker))
    try:
        RunDir.open(d)
    except RlsightError as e:
        one_line(e)


# -- removed and added keys --------------------------------------------------------------------


def test_old_run_config_with_removed_keys_loads_with_a_warning_and_keeps_its_hash():
    old = C.load("cpu-30min").to_toml().replace("[train]\n", "[train]\nenv_groups = 2\nchannels_last = false\n"
                                               "inference_chunk = 0\n")
    with pytest.warns(ConfigWarning) as caught:
        cfg = C.loads(old)
    said = [str(w.message) for w in caught]
    assert [m.split()[2] for m in said] == ["train.inference_chunk", "train.channels_last", "train.env_groups"]
    assert all("was removed" in m and "ignored" in m and "\n" not in m for m in said)
    assert cfg == C.load("cpu-30min")
    assert cfg.hash() != "9da9873845a3a54f"  # recorded with env_groups = 2: that run keeps its own hash
    with pytest.warns(ConfigWarning):
        assert C.loads(old.replace("env_groups = 2", "env_groups = 1")).hash() == "9da9873845a3a54f"
    assert "env_groups" not in cfg.to_toml()


def test_removed_key_warning_is_one_line_on_the_command_line(tmp_path):
    p = tmp_path / "old.toml"
    p.write_text(C.load("cpu-quick").to_toml().replace("[train]\n", "[train]\nchannels_last = true\n"))
    out = subprocess.run([sys.executable, "-m", "rlsight.cli.main", "config", str(p)], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stderr.strip().splitlines() == [
        "rlsight: warning: config key train.channels_last was removed (measured as useless, see BENCHMARKS.md); "
        "its value is ignored"]


def test_env_family_is_procgen_by_default_and_atari_needs_an_atari_game():
    assert C.Config().env.family == "procgen"
    with pytest.raises(ConfigError, match="env.game = 'starpilot': not a game of env.family = 'atari'; "
                                          "starpilot is a game of env.family = 'procgen'; valid: Alien, "):
        C.load("cpu-quick", ["env.family=atari"])
    with pytest.raises(ConfigError, match="env.family = 'gym': valid: procgen, atari"):
        C.load("cpu-quick", ["env.family=gym"])


def test_config_does_not_import_models_or_torch():
    code = "import sys, rlsight.config as C; C.load('cpu-quick', ['model.encoder=nature']); " \
           "print(sorted(m for m in sys.modules if m.startswith(('rlsight.models', 'torch'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registered_encoder_names_reach_config_validation():
    from rlsight.models.registry import ENCODERS, register_encoder

    with pytest.raises(ConfigError, match="valid encoders: impala, nature"):
        C.load("cpu-quick", ["model.encoder=mine"])
    register_encoder("mine", "some.module:Mine")
    try:
        assert C.load("cpu-quick", ["model.encoder=mine"]).model.encoder == "mine"
    finally:
        ENCODERS.pop("mine")


def test_shipped_sweep_files_load_to_what_they_describe():
    from rlsight.sweep import load_sweep
    from tests.conftest import REPO

    oat = load_sweep(REPO / "configs" / "sweeps" / "one-at-a-time.toml")
    assert (oat.strategy, oat.order, oat.seeds, oat.base.train.total_steps) == (
        "one-at-a-time", ["ppo.lr", "ppo.entropy_coef", "ppo.num_epochs"], [0, 1], 200_000)
    assert oat.params["ppo.num_epochs"].grid_values() == [2, 3, 4] and oat.params["ppo.lr"].values == [2e-4, 5e-4, 1e-3]
    assert (oat.local.workers, oat.slurm.time_min, oat.slurm.cpus_per_task, oat.slurm.mem_gb) == (2, 120, 8, 8)
    tpe = load_sweep(REPO / "configs" / "sweeps" / "tpe.toml")
    assert (tpe.strategy, tpe.trials, tpe.pruner.kind, tpe.pruner.startup_trials, tpe.pruner.warmup_steps) == (
        "tpe", 30, "median", 5, 50_000)
    assert tpe.pruner.metric == tpe.objective.metric == "test_return"
    assert {n: p.type for n, p in tpe.params.items()} == {
        "ppo.lr": "log-uniform", "ppo.gamma": "uniform", "ppo.num_epochs": "int", "model.encoder": "choice"}


def test_a_section_copies_with_a_few_keys_changed_and_the_whole_config_is_checked():
    """Rendering one level copies the env section (dataclasses.replace); the rules that span
    keys are checked on the whole config, where they name the keys."""
    import dataclasses

    env = dataclasses.replace(C.EnvConfig(test_start_level=1000), start_level=1500, num_levels=1)
    assert (env.start_level, env.num_levels) == (1500, 1)
    cfg = C.Config()
    cfg.env = env
    with pytest.raises(ConfigError, match=r"env.test_start_level = 1000: held-out levels \[1000, 101000\) overlap"):
        C.validate(cfg)
