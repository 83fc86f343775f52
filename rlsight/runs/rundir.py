"""The run directory: the contract between training and every reader.

Layout and columns are documented in docs/run-directory.md. Readers use this
module only; they never import the trainer.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from rlsight import __version__
from rlsight.config import Config, loads, read_text
from rlsight.errors import ConfigError, RunDirError
from rlsight.runs import faults
from rlsight.runs.atomic import atomic_dir, atomic_write_text, disk_full_as_error
from rlsight.runs.checkpoint import load_json, save_json
from rlsight.runs.lock import holder

FORMAT_VERSION = 1
MARKER = "rlsight-run.json"
CONFIG = "config.toml"
METRICS = "metrics.csv"
MODEL = "model.safetensors"
MODEL_META = "model.json"
CHECKPOINTS = "checkpoints"
EVAL = "eval"
TB = "tb"
PROGRESS_PLOT = "progress.png"

METRIC_COLUMNS = [
    "update", "step", "wall_time", "sps",
    "train_return", "test_return", "train_length", "test_length",
    "train_reward_rate", "test_reward_rate", "train_episodes", "test_episodes",
    "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
    "explained_variance", "grad_norm", "lr",
    "rollout_time", "learn_time",
]
# Columns that depend on wall-clock time rather than on the computation.
TIMING_COLUMNS = ("wall_time", "sps", "rollout_time", "learn_time")


class RunMarker(BaseModel):
    """What rlsight-run.json may hold (docs/run-directory.md); anything else is refused."""

    model_config = ConfigDict(extra="forbid")
    format_version: StrictInt
    rlsight_version: StrictStr | None = None
    kind: StrictStr | None = None
    created: StrictStr | None = None
    status: Literal["created", "running", "interrupted", "finished"] | None = None
    config_hash: StrictStr | None = None
    steps: StrictInt | None = None
    compare_to: StrictStr | None = None
    source: StrictStr | None = None


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a run (has the run marker file)."""
    return (Path(path) / MARKER).is_file()


class RunDir:
    """One run directory on disk."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- creation -------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, config: Config, kind: str = "trained", overwrite: bool = False) -> RunDir:
        """Make a new run directory; an existing non-empty folder needs ``overwrite``.
        The folder appears complete (marker, config, empty metrics) or not at all."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            if not overwrite:
                hint = ("use --resume to continue it, --overwrite to replace it, or another --run-dir" if kind == "trained"
                        else "use --overwrite to replace it, or another --out")
                raise RunDirError(f"{path} already exists; {hint}")
            if not path.is_dir():
                raise RunDirError(f"{path} exists and is not a folder; refusing to replace it")
            if not is_run_dir(path):
                raise RunDirError(f"{path} is not an rlsight run directory; refusing to delete it with --overwrite")
            who = holder(path)
            if who is not None:
                raise RunDirError(f"{path} is being trained by {who}; refusing to replace it with --overwrite")
        try:  # runs/ of a fresh clone, or a sweep's folder: made as needed
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"{path.parent}: cannot make the parent folder ({e.strerror})") from None

        def fill(tmp: Path) -> None:
            atomic_write_text(tmp / CONFIG, config.to_toml())
            save_json(tmp / MARKER, {
                "format_version": FORMAT_VERSION, "rlsight_version": __version__, "kind": kind,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "status": "created", "config_hash": config.hash(),
            })
            cls(tmp).write_metrics([])

        # with --overwrite the old run is swapped out only once the new one is complete
        atomic_dir(path, fill, replace=overwrite)
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Open an existing run directory, checking its marker and format version."""
        path = Path(path)
        if not path.exists():
            raise RunDirError(f"{path}: no such run directory")
        if not is_run_dir(path):
            raise RunDirError(f"{path}: not an rlsight run directory (no {MARKER})")
        run = cls(path)
        raw = load_json(path / MARKER)
        if not isinstance(raw, dict):
            raise RunDirError(f"{path / MARKER}: not a run marker (a JSON object was expected)")
        v = raw.get("format_version")
        if not isinstance(v, int) or v > FORMAT_VERSION:
            raise RunDirError(f"{path}: run format version {v!r} is newer than this rlsight reads ({FORMAT_VERSION})")
        run.info()  # every key known, every value of its type
        return run

    # -- small files ----------------------------------------------------------
    @property
    def name(self) -> str:
        """The run's folder name."""
        return self.path.name

    def info(self) -> dict:
        """The marker's keys (RunMarker); a wrong type or an unknown key is a one-line RunDirError."""
        raw = load_json(self.path / MARKER)
        try:
            return RunMarker.model_validate(raw).model_dump(exclude_unset=True)
        except ValidationError as e:
            err = e.errors()[0]
            key = ".".join(map(str, err["loc"]))
            what = f"unknown key {key!r}" if err["type"] == "extra_forbidden" else \
                f"{key} = {err.get('input')!r}: {err['msg']}" if key else err["msg"]
            raise RunDirError(f"{self.path / MARKER}: {what} (valid keys: {', '.join(RunMarker.model_fields)})") from None

    def update_info(self, **kw) -> None:
        """Merge ``kw`` into the run's info file, atomically."""
        d = self.info()
        d.update(kw)
        save_json(self.path / MARKER, d)

    def config(self) -> Config:
        """The run's config; a missing or invalid file raises RunDirError."""
        p = self.path / CONFIG
        if not p.is_file():
            raise RunDirError(f"{p}: file not found")
        try:
            text = read_text(p)
        except ConfigError as e:  # not UTF-8: the message names the file already
            raise RunDirError(str(e)) from None
        try:
            return loads(text)
        except ConfigError as e:
            raise RunDirError(f"{p}: {e}") from None

    # -- metrics ----------------------------------------------------------------
    def write_metrics(self, rows: list[dict]) -> None:
        """Replace metrics.csv with ``rows``, atomically."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: _fmt(r.get(k)) for k in METRIC_COLUMNS})
        atomic_write_text(self.path / METRICS, buf.getvalue())

    def truncate_metrics(self, last_update: int) -> None:
        """Keep the complete rows up to update ``last_update`` with their values as written
        (parsing and re-formatting would write 8192 back as 8192.0) under today's header (a
        file from before a column was added gets the column, empty), atomically. A resume
        drops what came after its checkpoint this way."""
        self.write_metrics([r for r in self._written_rows() if _parse(r.get("update", "")) <= last_update])

    def append_metrics(self, row: dict) -> None:
        """Append one row (flushed). A crash can leave a partial last line, which
        ``metrics()`` drops and a resume truncates away."""
        line = io.StringIO()
        csv.DictWriter(line, fieldnames=METRIC_COLUMNS, extrasaction="ignore").writerow(
            {k: _fmt(row.get(k)) for k in METRIC_COLUMNS}
        )
        text = line.getvalue()
        with disk_full_as_error(self.path / METRICS), open(self.path / METRICS, "a") as f:
            if faults.active():  # the fault tests stop the process half-way through the line
                half = len(text) // 2
                f.write(text[:half])
                f.flush()
                faults.point("metrics", self.path / METRICS)
                text = text[half:]
            f.write(text)
            f.flush()

    def metrics(self) -> list[dict]:
        """Rows of metrics.csv as dicts of floats (NaN where empty); a partial last line
        is dropped. Columns added in later versions are NaN in rows written before them."""
        return [{k: _parse(r.get(k, "")) for k in METRIC_COLUMNS} for r in self._written_rows()]

    def _written_rows(self) -> list[dict[str, str]]:
        """The complete rows of metrics.csv as written (strings), without a partial last line
        or a row with too many or too few fields."""
        p = self.path / METRICS
        lines = p.read_text().splitlines(keepends=True) if p.is_file() else []
        if lines and not lines[-1].endswith("\n"):
            lines = lines[:-1]
        return [r for r in csv.DictReader(lines) if None not in r and None not in r.values()]

    def remove_temporaries(self) -> list[Path]:
        """Delete what a killed writer left half-made (``.NAME.*.tmp`` files, ``.step_*``
        folders); call only while holding the run's lock. Returns what was removed."""
        found = [p for p in self.path.glob(".*.tmp") if p.is_file()]
        ck = self.path / CHECKPOINTS
        if ck.is_dir():
            found += [p for p in ck.glob(".*.tmp") if p.is_file()]
            found += [p for p in ck.glob(".step_*") if p.is_dir()]
        for p in found:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        return found

    # -- checkpoints --------------------------------------------------------------
    def checkpoint_dir(self) -> Path:
        """The checkpoints folder (created if missing)."""
        d = self.path / CHECKPOINTS
        d.mkdir(exist_ok=True)
        return d

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first (a folder is complete once renamed into place)."""
        d = self.path / CHECKPOINTS
        if not d.is_dir():
            return []
        return sorted(p for p in d.iterdir() if p.is_dir() and p.name.startswith("step_"))

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        cks = self.checkpoints()
        return cks[-1] if cks else None

    def model_file(self) -> Path:
        """The final model, or the newest checkpoint's weights while training runs."""
        final = self.path / MODEL
        if final.is_file():
            return final
        ck = self.latest_checkpoint()
        if ck is not None:
            return ck / MODEL
        raise RunDirError(f"{self.path}: no model yet (neither {MODEL} nor a checkpoint)")

    # -- evaluation ---------------------------------------------------------------
    def save_eval(self, result: dict) -> Path:
        """Save an evaluation result under eval/, named by its settings; returns the file."""
        d = self.path / EVAL
        d.mkdir(exist_ok=True)
        name = f"{result['split']}-ep{result['episodes']}-seed{result['seed']}-step{result['step']}"
        if result.get("greedy"):
            name += "-greedy"
        if result.get("policy") == "random":  # rlsight evaluate --random: the setting's floor
            name += "-random"
        if result.get("setting"):  # a shifted evaluation (rlsight.shift.setting_label)
            name += f"-{result['setting']}"
        p = d / f"{name}.json"
        save_json(p, result)
        return p

    def evals(self) -> list[dict]:
        """All saved evaluation results, sorted by file name."""
        d = self.path / EVAL
        return [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] if d.is_dir() else []


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def _parse(v: str) -> float:
    return float(v) if v not in ("", None) else float("nan")
