"""Experiment trackers a run reports to besides metrics.csv (which is always written):
TensorBoard, Weights & Biases and MLflow, chosen by ``train.loggers``.

wandb and mlflow are optional extras (``pip install rlsight[wandb]``, ``rlsight[mlflow]``)
and offline by default: wandb writes an offline run under ``RUN/wandb/`` (upload later
with ``wandb sync``), MLflow a local store in ``RUN/mlruns/`` (or ``train.mlflow_tracking_uri``).
Their run ids are kept in ``RUN/trackers.json``, so a resumed training run, a later
``rlsight evaluate`` and a saliency video written into the run all land in the same
tracker run. They get the config, every metrics row, evaluation results and videos;
TensorBoard gets the metrics rows only (as before).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import re
import sys
import time
from pathlib import Path
from typing import Any, Protocol

from rlsight.config import Config
from rlsight.errors import RlsightError
from rlsight.runs.checkpoint import load_json, save_json
from rlsight.runs.rundir import RunDir, is_run_dir

STATE = "trackers.json"  # {"wandb": {"id": ...}, "mlflow": {"run_id": ..., "tracking_uri": ...}}
TB = "tb"
MLRUNS = "mlruns"
EXTERNAL = {"wandb": "wandb", "mlflow": "mlflow"}  # logger -> the module it needs (the extra has the logger's name)
# Metric names MLflow accepts: letters, digits, _ - . / and spaces.
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-./ ]")


def check_installed(loggers: list[str]) -> None:
    """Raise a one-line RlsightError naming ``pip install rlsight[NAME]`` for a logger whose
    package is missing; call it before anything is written."""
    for name in loggers:
        module = EXTERNAL.get(name)
        if module and importlib.util.find_spec(module) is None:
            raise RlsightError(f"train.loggers includes {name!r} but the {module} package is not installed: "
                               f"pip install rlsight[{name}] (or drop {name} from train.loggers)")


def metric_group(key: str) -> str:
    """The TensorBoard/wandb section of a metrics column: charts, perf or losses."""
    if key.endswith(("return", "rate", "length")):
        return "charts"
    return "perf" if key in ("sps", "wall_time") else "losses"


def row_scalars(row: dict) -> dict[str, float]:
    """A metrics row as ``{"charts/train_return": ...}``: its finite floats (the measured values;
    not update, step or the episode counts), as TensorBoard has always had them."""
    return {f"{metric_group(k)}/{k}": v for k, v in row.items()
            if k not in ("update", "step") and isinstance(v, float) and math.isfinite(v)}


def eval_label(result: dict) -> str:
    """A tracker-safe name of an evaluation's settings: the stem of its file in RUN/eval/."""
    stem = Path(result["file"]).stem if result.get("file") else f"{result['split']}-ep{result['episodes']}"
    return _UNSAFE.sub("_", stem)


EVAL_FIELDS = ("mean_return", "stderr", "normalized_return", "episodes", "min_return", "max_return")


def eval_scalars(result: dict) -> dict[str, float]:
    """``{"eval/<label>/mean_return": ...}`` for the numeric fields of an evaluation result."""
    label = eval_label(result)
    return {f"eval/{label}/{k}": float(result[k]) for k in EVAL_FIELDS
            if isinstance(result.get(k), (int, float)) and math.isfinite(result[k])}


class Tracker(Protocol):
    """One backend: what a run reports to it."""

    def metrics(self, row: dict) -> None:
        """Log one metrics.csv row at its environment step."""

    def evaluation(self, result: dict) -> None:
        """Log one evaluation result (rlsight.evaluate)."""

    def media(self, path: Path, step: int) -> None:
        """Log a video or image file."""

    def close(self, status: str) -> None:
        """Flush and close; ``status``: finished, interrupted, failed, or "" to leave the run's status alone."""


class TensorBoardTracker:
    """Metrics rows as TensorBoard scalars in RUN/tb (``purge_step``: drop events logged
    after the checkpoint a resume starts from)."""

    def __init__(self, run_path: Path, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_path / TB), purge_step=purge_step)

    def metrics(self, row: dict) -> None:
        """Every finite value of the row, at the row's step."""
        for k, v in row_scalars(row).items():
            self.writer.add_scalar(k, v, int(row["step"]))

    def evaluation(self, result: dict) -> None:
        """Not logged to TensorBoard (results stay in RUN/eval/)."""

    def media(self, path: Path, step: int) -> None:
        """Not logged to TensorBoard."""

    def close(self, status: str) -> None:
        """Flush and close the event file."""
        self.writer.close()


class WandbTracker:
    """A wandb run, offline by default, kept under RUN/wandb; resumed by the id in trackers.json."""

    def __init__(self, run_path: Path, cfg: Config, state: dict):
        import wandb

        self.wandb = wandb
        # create_new: runs trained side by side in one process (sweep trials) each get their own
        settings = wandb.Settings(silent=True, console="off", x_disable_stats=True, save_code=False,
                                  x_save_requirements=False, disable_git=True, reinit="create_new")
        self.run = wandb.init(project=cfg.train.tracker_project, dir=str(run_path), mode=cfg.train.wandb_mode,
                              id=state.get("id"), resume="allow", name=run_path.name, config=cfg.to_dict(),
                              settings=settings)
        state.update(id=self.run.id, project=cfg.train.tracker_project, mode=cfg.train.wandb_mode)

    def metrics(self, row: dict) -> None:
        """The row's values (charts/, losses/, perf/) at its environment step."""
        self.run.log({**row_scalars(row), "update": int(row["update"])}, step=int(row["step"]))

    def evaluation(self, result: dict) -> None:
        """The result's numbers at the model's step, and in the run summary."""
        values = eval_scalars(result)
        self.run.log(values, step=int(result.get("step") or 0))
        self.run.summary.update(values)

    def media(self, path: Path, step: int) -> None:
        """A video (mp4, gif) or image (png) under media/<file name>."""
        obj = self.wandb.Image(str(path)) if path.suffix.lower() == ".png" else self.wandb.Video(str(path))
        self.run.log({f"media/{path.stem}": obj}, step=step)

    def close(self, status: str) -> None:
        """Finish the wandb run (exit code 1 when training failed)."""
        self.run.finish(exit_code=1 if status == "failed" else 0)


class MlflowTracker:
    """An MLflow run in a local store under RUN/mlruns (or ``train.mlflow_tracking_uri``);
    resumed by the run id in trackers.json."""

    STATUS = {"finished": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}

    def __init__(self, run_path: Path, cfg: Config, state: dict, *, attach: bool = False):
        for name in ("mlflow", "alembic"):  # "Creating initial MLflow database tables..." and the like
            logging.getLogger(name).setLevel(logging.WARNING)
        from mlflow.tracking import MlflowClient

        uri, artifacts = cfg.train.mlflow_tracking_uri, None
        if not uri:
            store = (run_path / MLRUNS).resolve()
            store.mkdir(exist_ok=True)
            uri, artifacts = f"sqlite:///{store / 'mlflow.db'}", (store / "artifacts").as_uri()
        self.client = MlflowClient(tracking_uri=uri)
        self.made_attached = False  # a run made by an evaluation or a video is finished when it closes
        if state.get("run_id") and state.get("tracking_uri") == uri:
            if _active_run(self.client, state["run_id"]):
                self.run_id = state["run_id"]
                if not attach:
                    self.client.update_run(self.run_id, status="RUNNING")
                return
            print(f"{run_path}: MLflow run {state['run_id']} is no longer in {uri} (deleted, or its store "
                  f"removed); logging to a new MLflow run", file=sys.stderr, flush=True)
        name = cfg.train.tracker_project
        exp = self.client.get_experiment_by_name(name)  # deleted experiments too
        if exp is not None and exp.lifecycle_stage == "deleted":
            self.client.restore_experiment(exp.experiment_id)  # its name is taken until it is purged
            print(f"{run_path}: MLflow experiment {name!r} was deleted; restored to log this run in it",
                  file=sys.stderr, flush=True)
        exp_id = exp.experiment_id if exp else self.client.create_experiment(name, artifact_location=artifacts)
        run = self.client.create_run(exp_id, run_name=run_path.name, tags={"rlsight.run_dir": str(run_path.resolve())})
        self.run_id = run.info.run_id
        self.made_attached = attach
        from mlflow.entities import Param

        params = [Param(k, str(v)[:6000]) for k, v in cfg.flat().items()]
        for i in range(0, len(params), 100):  # log_batch takes at most 100 params a call
            self.client.log_batch(self.run_id, params=params[i:i + 100])
        self.client.log_text(self.run_id, cfg.to_toml(), "config.toml")
        state.update(run_id=self.run_id, tracking_uri=uri, experiment_id=exp_id)

    def _log(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(_UNSAFE.sub("_", k), v, now, step) for k, v in values.items()]
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[i:i + 1000])

    def metrics(self, row: dict) -> None:
        """The row's values at its environment step."""
        self._log(row_scalars(row), int(row["step"]))

    def evaluation(self, result: dict) -> None:
        """The result's numbers at the model's step, and the whole result as eval/<label>.json."""
        self._log(eval_scalars(result), int(result.get("step") or 0))
        self.client.log_dict(self.run_id, result, f"eval/{eval_label(result)}.json")

    def media(self, path: Path, step: int) -> None:
        """The file as an artifact under media/."""
        self.client.log_artifact(self.run_id, str(path), "media")

    def close(self, status: str) -> None:
        """Mark the run finished, killed (interrupted) or failed; "" leaves it as it is, unless an
        evaluation or a video made it (its store had lost the training's run): then finished."""
        if status:
            self.client.set_terminated(self.run_id, self.STATUS.get(status, "FINISHED"))
        elif self.made_attached:
            self.client.set_terminated(self.run_id, "FINISHED")


def _active_run(client, run_id: str) -> bool:
    """Whether the MLflow store has the run ``run_id``, not deleted."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id).info.lifecycle_stage == "active"
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise


class Trackers:
    """The trackers of one run, opened together. Training opens them with
    ``Trackers(run_path, cfg)``; evaluation and saliency attach with ``attach=True``
    (external trackers only, the run's status left alone)."""

    def __init__(self, run_path: str | Path, cfg: Config, *, attach: bool = False, purge_step: int | None = None):
        self.path = Path(run_path)
        names = [n for n in cfg.train.loggers if not (attach and n == "tensorboard")]
        check_installed(names)
        self.attach = attach
        state_file = self.path / STATE
        state: dict[str, Any] = load_json(state_file) if state_file.is_file() else {}
        self.backends: list[Tracker] = []
        try:
            for name in names:
                if name == "tensorboard":
                    self.backends.append(TensorBoardTracker(self.path, purge_step))
                elif name == "wandb":
                    self.backends.append(WandbTracker(self.path, cfg, state.setdefault("wandb", {})))
                elif name == "mlflow":
                    self.backends.append(MlflowTracker(self.path, cfg, state.setdefault("mlflow", {}), attach=attach))
        except BaseException:
            self.close("failed")
            raise
        finally:  # the ids of the trackers that did open, so that the next attempt resumes them
            if state:
                save_json(state_file, state)

    def metrics(self, row: dict) -> None:
        """Log one metrics row to every tracker."""
        for b in self.backends:
            b.metrics(row)

    def evaluation(self, result: dict) -> None:
        """Log one evaluation result to every tracker."""
        for b in self.backends:
            b.evaluation(result)

    def media(self, path: str | Path, step: int) -> None:
        """Log a video or image file to every tracker."""
        for b in self.backends:
            b.media(Path(path), step)

    def close(self, status: str = "finished") -> None:
        """Close every tracker (an attached set leaves the run's status alone)."""
        for b in self.backends:
            b.close("" if self.attach else status)
        self.backends = []


def external_loggers(cfg: Config) -> list[str]:
    """The run's loggers that live outside the run directory's own files (wandb, mlflow)."""
    return [n for n in cfg.train.loggers if n in EXTERNAL]


def log_evaluation(run_path: str | Path, cfg: Config, result: dict) -> None:
    """Send a saved evaluation result to the run's wandb/mlflow runs (nothing when it has none)."""
    if not external_loggers(cfg):
        return
    t = Trackers(run_path, cfg, attach=True)
    try:
        t.evaluation(result)
    finally:
        t.close()


def log_media(run_path: str | Path, cfg: Config, path: str | Path, step: int) -> None:
    """Send a video or image saved in the run to its wandb/mlflow runs (nothing when it has none)."""
    if not external_loggers(cfg):
        return
    t = Trackers(run_path, cfg, attach=True)
    try:
        t.media(path, step)
    finally:
        t.close()


def media_target(path: str | Path) -> tuple[Path, Config, int] | None:
    """The run that a file about to be written at ``path`` lies inside, with its config and
    model step, when that run reports to wandb/mlflow (their packages checked now, before
    the slow part); None otherwise."""
    p = Path(path).resolve()
    found = next((d for d in p.parents if is_run_dir(d)), None)
    if found is None:
        return None
    rd = RunDir.open(found)
    cfg = rd.config()
    if not external_loggers(cfg):
        return None
    check_installed(external_loggers(cfg))
    return found, cfg, int(rd.info().get("steps") or 0)
