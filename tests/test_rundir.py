"""What a training run leaves on disk, and how bad run directories are refused."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from rlsight.errors import RlsightError, RunDirError
from rlsight.runs import METRIC_COLUMNS, RunDir
from rlsight.runs.load import load_policy
from rlsight.training import resume, train
from tests.conftest import tiny_config


def test_a_run_directory_is_complete(tiny_run):
    run = RunDir.open(tiny_run)
    assert run.info()["status"] == "finished" and run.info()["format_version"] == 1
    assert run.config() == tiny_config()
    rows = run.metrics()
    assert len(rows) == 4 and [r["step"] for r in rows] == [256, 512, 768, 1024]
    for col in METRIC_COLUMNS:
        assert col in rows[-1]
    assert not any(v != v for k, v in rows[-1].items() if k not in ("train_return", "test_return", "train_length", "test_length"))
    assert list((tiny_run / "tb").glob("events.out.tfevents.*"))
    assert (tiny_run / "progress.png").stat().st_size > 1000
    ck = run.latest_checkpoint()
    meta = json.loads((ck / "meta.json").read_text())
    for key in ("step", "update", "config_hash", "optimizer", "rng_numpy", "normalizer", "tracker"):
        assert key in meta
    assert meta["config_hash"] == tiny_config().hash()
    assert (ck / "model.safetensors").is_file() and (ck / "state.safetensors").is_file()
    model, cfg, step = load_policy(tiny_run)
    assert step == 1024 and cfg.model.encoder == "nature"


def test_existing_run_dir_is_not_overwritten(tiny_run, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(tiny_run, d)
    before = (d / "metrics.csv").read_text()
    with pytest.raises(RunDirError, match="already exists; use --resume"):
        train(tiny_config(), d, progress=False)
    assert (d / "metrics.csv").read_text() == before


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path):
    d = tmp_path / "precious"
    d.mkdir()
    (d / "thesis.tex").write_text("years of work")
    with pytest.raises(RunDirError, match="not an rlsight run directory"):
        RunDir.create(d, tiny_config(), overwrite=True)
    assert (d / "thesis.tex").read_text() == "years of work"


def test_resuming_a_finished_run_is_refused(tiny_run):
    with pytest.raises(RlsightError, match="already finished"):
        resume(tiny_run)


def _copy_with_checkpoint(tiny_run, tmp_path):
    d = tmp_path / "run"
    shutil.copytree(tiny_run, d)
    (d / "model.safetensors").unlink()
    RunDir(d).update_info(status="running")
    return d, RunDir(d).latest_checkpoint()


def test_truncated_checkpoint_is_a_clear_error(tiny_run, tmp_path):
    d, ck = _copy_with_checkpoint(tiny_run, tmp_path)
    f = ck / "model.safetensors"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(RunDirError, match="truncated or corrupted"):
        resume(d, progress=False)
    with pytest.raises(RunDirError, match="model.safetensors"):
        load_policy(d)


def test_checkpoint_of_another_architecture_is_a_clear_error(tiny_run, tmp_path):
    d, _ = _copy_with_checkpoint(tiny_run, tmp_path)
    text = (d / "config.toml").read_text().replace('encoder = "nature"', 'encoder = "impala"')
    (d / "config.toml").write_text(text)
    with pytest.raises(RunDirError, match="do not fit this architecture"):
        load_policy(d)


def test_not_a_run_dir(tmp_path):
    with pytest.raises(RunDirError, match="not an rlsight run directory"):
        RunDir.open(tmp_path)
    with pytest.raises(RunDirError, match="no such run directory"):
        RunDir.open(tmp_path / "missing")


def test_partial_last_metrics_line_is_dropped(tiny_run, tmp_path):
    d = tmp_path / "r"
    shutil.copytree(tiny_run, d)
    with open(d / "metrics.csv", "a") as f:
        f.write("5,1280,3.2,100")
    assert len(RunDir(d).metrics()) == 4


@pytest.mark.procgen
def test_max_minutes_stops_with_a_final_model(tmp_path):
    run = train(tiny_config(train__max_minutes=1e-6), tmp_path / "short", progress=False)
    rows = run.metrics()
    assert len(rows) == 1 and run.info()["status"] == "finished" and run.info()["steps"] == 256
    assert (run.path / "model.safetensors").is_file() and run.latest_checkpoint().name == "step_000000000256"


def test_each_update_records_where_its_time_went(tiny_run):
    for r in RunDir.open(tiny_run).metrics():
        assert r["rollout_time"] > 0 and r["learn_time"] > 0
        # sps is measured over the same span as the two parts together
        assert r["rollout_time"] + r["learn_time"] == pytest.approx(256 / r["sps"], rel=0.02, abs=2e-3)


@pytest.mark.procgen
def test_metrics_written_before_the_time_columns_load_and_resume(tmp_path):
    """A run recorded before rollout_time and learn_time existed: its rows load with
    those cells empty (NaN), and resuming it keeps them and writes every column."""
    cfg = tiny_config(env__num_envs=4, env__num_test_envs=2, ppo__num_steps=16, ppo__batch_size=32,
                      train__total_steps=256, train__save_step=128, train__keep_checkpoints=0)  # 4 updates of 64
    ref = train(cfg, tmp_path / "ref", progress=False).metrics()
    d = tmp_path / "old"
    shutil.copytree(tmp_path / "ref", d)
    old_cols = [c for c in METRIC_COLUMNS if c not in ("rollout_time", "learn_time")]
    lines = [",".join(old_cols)] + [",".join(repr(r[c]) if r[c] == r[c] else "" for c in old_cols) for r in ref[:2]]
    (d / "metrics.csv").write_text("\n".join(lines) + "\n")
    old = RunDir(d).metrics()
    assert len(old) == 2 and all(math.isnan(r["rollout_time"]) and math.isnan(r["learn_time"]) for r in old)
    assert [r["policy_loss"] for r in old] == [r["policy_loss"] for r in ref[:2]]

    shutil.rmtree(RunDir(d).latest_checkpoint())  # back to the checkpoint at step 128
    (d / "model.safetensors").unlink()
    RunDir(d).update_info(status="running")
    rows = resume(d, progress=False).metrics()
    assert (d / "metrics.csv").read_text().splitlines()[0] == ",".join(METRIC_COLUMNS)
    assert [math.isnan(r["learn_time"]) for r in rows] == [True, True, False, False]
    assert [r["policy_loss"] for r in rows] == [r["policy_loss"] for r in ref]


def test_create_makes_missing_parent_folders(tmp_path):
    """A fresh clone has no runs/: `--run-dir runs/x` and `import-checkpoint --out runs/x` work."""
    from rlsight.config import Config

    run = RunDir.create(tmp_path / "runs" / "deeper" / "x", Config())
    assert run.path.is_dir() and (run.path / "config.toml").is_file()
    (tmp_path / "file").write_text("")
    with pytest.raises(RunDirError, match="cannot make the parent folder"):
        RunDir.create(tmp_path / "file" / "x", Config())
    with pytest.raises(RunDirError, match="already exists; use --overwrite to replace it, or another --out"):
        RunDir.create(run.path, Config(), kind="imported")


@pytest.mark.parametrize(("where", "content", "says"), [
    ("config.toml", b"[ppo]\nlr = 1e-3 # \xff\xfe\n", "not a TOML file (TOML is UTF-8; byte 18 is not)"),
    ("model.json", b'{"step": "x"}', '"step" must be a whole number >= 0, not \'x\''),
    ("model.json", b'{"step": NaN}', '"step" must be a whole number >= 0, not nan'),
    ("model.json", b'{"step": Infinity}', '"step" must be a whole number >= 0, not inf'),
    ("rlsight-run.json", b"[1, 2]", "not a run marker (a JSON object was expected)"),
])
def test_damaged_run_files_are_named_in_one_line(tmp_path, where, content, says):
    """A damaged file gives one line naming it, from every reader (here: load_policy)."""
    from tests.faith_helpers import model_run

    run = model_run(tmp_path / "a")
    (run / where).write_bytes(content)
    with pytest.raises(RlsightError, match="^" + __import__("re").escape(f"{run / where}: {says}")):
        load_policy(run)


def test_run_folders_and_files_follow_the_umask(tmp_path):
    """On a shared cluster colleagues read each other's runs: a run is not private."""
    import os
    import stat

    from rlsight.config import Config
    from rlsight.runs.atomic import current_umask

    old = os.umask(0o022)
    try:
        assert current_umask() == 0o022
        run = RunDir.create(tmp_path / "r", Config())
        assert stat.S_IMODE(run.path.stat().st_mode) == 0o755
        for f in ("config.toml", "rlsight-run.json", "metrics.csv"):
            assert stat.S_IMODE((run.path / f).stat().st_mode) == 0o644, f
        os.umask(0o077)
        private = RunDir.create(tmp_path / "p", Config())
        assert stat.S_IMODE(private.path.stat().st_mode) == 0o700
        assert stat.S_IMODE((private.path / "config.toml").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_truncating_metrics_keeps_the_rows_as_written(tmp_path):
    from rlsight.config import Config

    run = RunDir.create(tmp_path / "r", Config())
    for u in (1, 2, 3):
        run.append_metrics({"update": u, "step": 8192 * u, "train_return": 1.5 * u})
    before = (run.path / "metrics.csv").read_text().splitlines(keepends=True)
    with open(run.path / "metrics.csv", "a") as f:
        f.write("4,327")  # a partial line, as a kill leaves it
    run.truncate_metrics(2)
    assert (run.path / "metrics.csv").read_text() == "".join(before[:3])  # header, updates 1 and 2
    assert ",8192," in before[1] and "8192.0" not in "".join(before)
