"""train.loggers: TensorBoard, wandb (offline) and MLflow (local store) get the config, every
metrics row, evaluation results and videos; a resumed run continues the same tracker run.
The wandb and MLflow tests use the real packages and skip when they are not installed."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from rlsight import config as C
from rlsight.errors import RlsightError
from rlsight.runs import RunDir
from rlsight.runs.trackers import STATE, check_installed, eval_label, log_media, media_target
from rlsight.training import resume, train
from tests.conftest import tiny_config
from tests.toy_env import QuadrantEnv
from tests.tracker_helpers import (
    wandb_config,
    wandb_history,
    wandb_offline_runs,
    wandb_records,
    wandb_run_ids,
    wandb_summary,
)

HAVE_WANDB = importlib.util.find_spec("wandb") is not None
HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None
needs_wandb = pytest.mark.skipif(not HAVE_WANDB, reason="wandb not installed (pip install rlsight[wandb])")
needs_mlflow = pytest.mark.skipif(not HAVE_MLFLOW, reason="mlflow not installed (pip install rlsight[mlflow])")
UPDATES = 4  # 8 envs x 32 steps each


def _cfg(*loggers: str) -> C.Config:
    return tiny_config(train__total_steps=256 * UPDATES, train__save_step=256, train__keep_checkpoints=0,
                       train__loggers=list(loggers))


def _train_in_two_sessions(run_dir: Path, cfg: C.Config) -> RunDir:
    """Train to update 2, stop (checkpoint, "interrupted"), then resume to the end."""
    first = train(cfg, run_dir, progress=False, env_factory=QuadrantEnv, on_update=lambda row: row["update"] >= 2)
    assert first.info()["status"] == "interrupted"
    return resume(run_dir, progress=False, env_factory=QuadrantEnv)


# -- the config key and the missing-package error -----------------------------------------------


def test_unknown_logger_is_one_line_naming_the_allowed():
    with pytest.raises(C.ConfigError) as e:
        C.load("cpu-quick", ["train.loggers=tensorboard,neptune"])
    msg = str(e.value)
    assert "\n" not in msg and "neptune" in msg and "tensorboard, wandb, mlflow" in msg


def test_loggers_from_set_as_list_or_comma_text():
    assert C.load("cpu-quick", ['train.loggers=["wandb", "mlflow"]']).train.loggers == ["wandb", "mlflow"]
    assert C.load("cpu-quick", ["train.loggers=tensorboard,mlflow"]).train.loggers == ["tensorboard", "mlflow"]
    assert C.load("cpu-quick", ["train.loggers=[]"]).train.loggers == []


def test_tracker_keys_at_default_leave_the_config_hash_unchanged():
    """Runs recorded before the tracker keys existed keep their hash, so they still resume."""
    cfg = C.Config()
    before = cfg.hash()
    cfg.train.loggers = ["tensorboard", "mlflow"]
    assert cfg.hash() != before
    cfg.train.loggers = ["tensorboard"]
    assert cfg.hash() == before


def test_missing_package_names_the_extra_and_writes_nothing(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(RlsightError) as e:
        check_installed(["tensorboard", "wandb"])
    assert "pip install rlsight[wandb]" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(RlsightError, match=r"pip install rlsight\[wandb\]"):
        train(_cfg("wandb"), tmp_path / "run", progress=False, env_factory=QuadrantEnv)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_no_loggers_still_writes_metrics_csv_and_no_tensorboard(tmp_path):
    run = train(_cfg(), tmp_path / "run", progress=False, env_factory=QuadrantEnv)
    assert len(run.metrics()) == UPDATES
    assert not (tmp_path / "run" / "tb").exists() and not (tmp_path / "run" / STATE).exists()


# -- the real packages, offline -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory) -> Path:
    """A toy run logged to TensorBoard, wandb and MLflow, trained in two sessions (stop + resume)."""
    if not (HAVE_WANDB and HAVE_MLFLOW):
        pytest.skip("needs wandb and mlflow (pip install rlsight[wandb,mlflow])")
    d = tmp_path_factory.mktemp("tracked") / "run"
    _train_in_two_sessions(d, _cfg("tensorboard", "wandb", "mlflow"))
    return d


def _mlflow(run_dir: Path):
    from mlflow.tracking import MlflowClient

    state = RunDir(run_dir).path / STATE
    import json

    ids = json.loads(state.read_text())["mlflow"]
    return MlflowClient(tracking_uri=ids["tracking_uri"]), ids["run_id"]


@needs_mlflow
@needs_wandb
@pytest.mark.slow
def test_mlflow_has_every_metrics_row_in_one_run_across_the_resume(tracked_run):
    client, run_id = _mlflow(tracked_run)
    assert (tracked_run / "mlruns" / "mlflow.db").is_file()  # the local store is inside the run directory
    rows = RunDir(tracked_run).metrics()
    assert len(rows) == UPDATES
    hist = {m.step: m.value for m in client.get_metric_history(run_id, "charts/train_reward_rate")}
    assert sorted(hist) == [int(r["step"]) for r in rows]
    for r in rows:
        assert math.isclose(hist[int(r["step"])], r["train_reward_rate"], rel_tol=1e-12)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["train.loggers"] == str(["tensorboard", "wandb", "mlflow"])
    assert run.data.params["env.game"] == "starpilot"
    exp_runs = client.search_runs([run.info.experiment_id])
    assert [r.info.run_id for r in exp_runs] == [run_id]  # the resume did not start a second run
    assert "config.toml" in {a.path for a in client.list_artifacts(run_id)}


@needs_mlflow
@needs_wandb
@pytest.mark.slow
def test_wandb_offline_run_has_every_metrics_row_under_one_id_across_the_resume(tracked_run):
    import json

    stored = json.loads((tracked_run / STATE).read_text())["wandb"]
    files = wandb_offline_runs(tracked_run)
    assert len(files) == 2  # one offline session per training session
    records = [wandb_records(f) for f in files]
    assert all(wandb_run_ids(r) == {stored["id"]} for r in records)
    history: dict[int, dict] = {}
    for r in records:
        history.update(wandb_history(r))
    rows = RunDir(tracked_run).metrics()
    assert sorted(history) == [int(r["step"]) for r in rows]
    for r in rows:
        assert math.isclose(history[int(r["step"])]["charts/train_reward_rate"], r["train_reward_rate"], rel_tol=1e-12)
        assert history[int(r["step"])]["update"] == r["update"]
    cfg = wandb_config(records[0])
    assert cfg["env"]["game"] == "starpilot" and cfg["train"]["loggers"] == ["tensorboard", "wandb", "mlflow"]


@needs_mlflow
@needs_wandb
@pytest.mark.slow
def test_tensorboard_events_still_written(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tracked_run / "tb"))
    acc.Reload()
    steps = [e.step for e in acc.Scalars("charts/train_reward_rate")]
    assert steps == [int(r["step"]) for r in RunDir(tracked_run).metrics()]


@needs_mlflow
@needs_wandb
@pytest.mark.slow
def test_evaluation_and_video_go_to_the_same_tracker_runs(tracked_run):
    from rlsight.evaluation import evaluate
    from rlsight.explain.saliency.video import write_frames

    result = evaluate(tracked_run, split="test", episodes=2, max_envs=2)
    label = eval_label(result)
    client, run_id = _mlflow(tracked_run)
    [m] = client.get_metric_history(run_id, f"eval/{label}/mean_return")
    assert math.isclose(m.value, result["mean_return"]) and m.step == result["step"]
    assert f"eval/{label}.json" in {a.path for a in client.list_artifacts(run_id, "eval")}
    assert client.get_run(run_id).info.status == "FINISHED"  # attaching leaves the status alone

    video = tracked_run / "saliency" / "clip.gif"
    video.parent.mkdir()
    target = media_target(video)
    assert target is not None and target[0] == tracked_run.resolve()
    write_frames(video, np.zeros((3, 16, 16, 3), np.uint8), fps=5)
    log_media(target[0], target[1], video, target[2])
    assert "media/clip.gif" in {a.path for a in client.list_artifacts(run_id, "media")}

    files = wandb_offline_runs(tracked_run)
    assert len(files) == 4  # training, resume, evaluation, video: all under the one id
    eval_records = wandb_records(files[2])
    assert wandb_run_ids(eval_records) == wandb_run_ids(wandb_records(files[0]))
    assert math.isclose(wandb_summary(eval_records)[f"eval/{label}/mean_return"], result["mean_return"])
    media = wandb_history(wandb_records(files[3]))
    assert any("media/clip" in k for items in media.values() for k in items)


def test_media_outside_a_tracked_run_is_not_logged(tmp_path):
    assert media_target(tmp_path / "x.gif") is None  # no run around it
    run = RunDir.create(tmp_path / "run", _cfg("tensorboard"))
    assert media_target(run.path / "saliency" / "x.gif") is None  # a run without wandb/mlflow
    tracked = RunDir.create(tmp_path / "tracked", _cfg("mlflow"))
    found = media_target(tracked.path / "saliency" / "x.gif")
    assert found is not None and found[0] == tracked.path.resolve()


@needs_mlflow
@pytest.mark.slow
@pytest.mark.procgen  # the evaluation plays starpilot
@pytest.mark.parametrize("loss", ["store removed", "run deleted", "experiment deleted"])
def test_evaluation_after_the_mlflow_run_is_gone_logs_to_a_new_run(tmp_path, loss):
    import json
    import shutil
    import subprocess
    import sys

    d = tmp_path / "run"
    train(_cfg("mlflow"), d, progress=False, env_factory=QuadrantEnv)
    old = json.loads((d / STATE).read_text())["mlflow"]["run_id"]
    if loss == "store removed":
        shutil.rmtree(d / "mlruns")
    elif loss == "run deleted":
        _mlflow(d)[0].delete_run(old)
    else:  # deletes its runs too; its name stays taken
        client = _mlflow(d)[0]
        client.delete_experiment(client.get_run(old).info.experiment_id)
    # a new process, as in use: MLflow keeps a removed store's database open in the process that used it
    cmd = [sys.executable, "-m", "rlsight.cli.main", "evaluate", str(d), "--split", "train", "--episodes", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"MLflow run {old} is no longer in" in done.stderr
    [saved] = (d / "eval").glob("*.json")
    result = json.loads(saved.read_text())
    new = json.loads((d / STATE).read_text())["mlflow"]["run_id"]
    assert new != old
    read = ("import json, sys, pathlib; from tests.test_trackers import _mlflow; c, i = _mlflow(pathlib.Path(sys.argv[1])); "
            "print(json.dumps([[m.value for m in c.get_metric_history(i, sys.argv[2])], c.get_run(i).info.status]))")
    key = f"eval/{saved.stem}/mean_return"
    values = subprocess.run([sys.executable, "-c", read, str(d), key], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert json.loads(values.stdout) == [[result["mean_return"]], "FINISHED"]  # the run the evaluation made is closed


def test_a_resume_before_the_first_checkpoint_leaves_one_tensorboard_point_a_step(tmp_path):
    """A run killed before its first checkpoint resumes from step 0: the events of the lost
    session are purged, as after a checkpoint, so each step has one point."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    d = tmp_path / "run"
    cfg = tiny_config(train__total_steps=256 * UPDATES, train__save_step=256 * 100, train__keep_checkpoints=0,
                      train__loggers=["tensorboard"])

    def crash(row):  # a kill after two updates, before any checkpoint
        if row["update"] >= 2:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        train(cfg, d, progress=False, env_factory=QuadrantEnv, on_update=crash)
    assert not RunDir(d).checkpoints()
    resume(d, progress=False, env_factory=QuadrantEnv)
    acc = EventAccumulator(str(d / "tb"))
    acc.Reload()
    steps = [e.step for e in acc.Scalars("charts/train_reward_rate")]
    assert steps == [int(r["step"]) for r in RunDir(d).metrics()] == [256 * (u + 1) for u in range(UPDATES)]
