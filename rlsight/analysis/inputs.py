"""Turn RUN_OR_GLOB arguments into opened run directories with readable labels."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsight.envs import DEFAULT_FAMILY, get_family
from rlsight.errors import RlsightError, RunDirError
from rlsight.runs import RunDir, is_run_dir

Warn = Callable[[str], None]
_GLOB_CHARS = set("*?[")


@dataclass
class RunInfo:
    """One run to compare: where it is, what it is called, and its config."""

    path: Path
    label: str
    config: dict[str, Any]
    info: dict[str, Any]
    group: str = ""
    run: RunDir | None = field(default=None, repr=False)

    @property
    def game(self) -> str:
        """The run's game (``env.game``), or "" when the config has none."""
        return str(self.config.get("env.game", ""))

    @property
    def mode(self) -> str:
        """The variant of the game the run plays, as its family names it for normalised
        returns: Procgen's ``env.distribution_mode`` (default easy), Atari's flavour."""
        return get_family(self.family).mode_of(lambda key, default: self.config.get(f"env.{key}", default))

    @property
    def family(self) -> str:
        """The run's environment family (``env.family``; runs from before Atari are Procgen's)."""
        return str(self.config.get("env.family", DEFAULT_FAMILY))


def flatten_inputs(inputs: Iterable[Any]) -> list[str]:
    """Accept a path, a glob, or (nested) lists of them."""
    out: list[str] = []
    for x in inputs:
        if isinstance(x, (str, os.PathLike)):
            out.append(os.fspath(x))
        elif isinstance(x, Iterable):
            out.extend(flatten_inputs(x))
        else:
            raise RlsightError(f"{x!r}: expected a run directory path or a glob")
    return out


def expand(inputs: Iterable[Any], warn: Warn) -> list[Path]:
    """Paths of run directories named by ``inputs``.

    A glob that matches nothing is an error; a path that is not a run directory
    is skipped with a warning (a folder whose children are run directories
    stands for those children).
    """
    args = flatten_inputs(inputs)
    if not args:
        raise RlsightError("no runs given: name run directories or globs such as 'runs/*'")
    found: list[Path] = []
    for arg in args:
        if _GLOB_CHARS & set(arg) and not Path(arg).exists():
            matches = sorted(glob.glob(os.path.expanduser(arg), recursive=True))
            if not matches:
                raise RlsightError(f"'{arg}' matches no files or folders")
        else:
            matches = [os.path.expanduser(arg)]
        for m in matches:
            found.extend(_runs_at(Path(m), warn))
    unique: list[Path] = []
    seen: set[Path] = set()
    for p in found:
        r = p.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(p)
    if not unique:
        raise RlsightError(f"no rlsight run directories among: {', '.join(args)}")
    return unique


def _runs_at(path: Path, warn: Warn) -> list[Path]:
    if is_run_dir(path):
        return [path]
    if not path.exists():
        warn(f"{path}: no such file or folder; skipped")
        return []
    if path.is_dir():
        children = sorted(p for p in path.iterdir() if p.is_dir() and is_run_dir(p))
        if children:
            return children
    warn(f"{path}: not an rlsight run directory (no rlsight-run.json); skipped")
    return []


def open_runs(paths: list[Path], warn: Warn) -> list[RunInfo]:
    """Open each run and read its config; unreadable runs are skipped with a warning."""
    runs: list[RunInfo] = []
    for p in paths:
        try:
            rd = RunDir.open(p)
            cfg = rd.config().flat()
            info = rd.info()
        except RunDirError as e:
            warn(f"{e}; skipped")
            continue
        runs.append(RunInfo(path=p, label="", config=cfg, info=info, run=rd))
    if not runs:
        raise RlsightError("none of the given run directories could be read")
    for r, label in zip(runs, labels([r.path for r in runs])):
        r.label = label
    return runs


def labels(paths: list[Path]) -> list[str]:
    """Short unique names: each path relative to the folder that holds them all."""
    res = [p.resolve() for p in paths]
    if len(res) == 1:
        return [res[0].name]
    common = Path(os.path.commonpath([str(p) for p in res]))
    if common in res:
        common = common.parent
    return [str(p.relative_to(common)) for p in res]
