"""A built wheel is a complete install: it declares its dependencies, ships the presets,
and, installed into a fresh virtual environment, trains outside the clone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """rlsight's wheel, built from a copy of the package sources (no build/ leftovers)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "rlsight", src / "rlsight", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                          "-w", str(root / "dist"), str(src)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    (whl,) = (root / "dist").glob("rlsight-*.whl")
    return whl


def test_wheel_declares_dependencies_and_ships_presets(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [line.split(":", 1)[1].strip() for line in z.read(meta).decode().splitlines()
                    if line.startswith("Requires-Dist:")]
    declared = {_name(r) for r in requires if "extra ==" not in r}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    assert {"torch", "numpy"} <= wanted == declared
    # procgen-mirror (numpy<2, CPython 3.11/3.12 only) is the `procgen` extra, not a core dependency
    assert "procgen-mirror" not in declared
    assert "procgen-mirror" in {_name(r) for r in project["optional-dependencies"]["procgen"]}
    assert any(r.startswith("procgen-mirror") and 'extra == "procgen"' in r for r in requires), requires
    numpy_pin = next(r for r in project["dependencies"] if _name(r) == "numpy")
    assert "<2" not in numpy_pin.replace(" ", ""), numpy_pin  # numpy 2 allowed where procgen is not installed
    shipped = {Path(n).name for n in names if n.startswith("rlsight/presets/") and n.endswith(".toml")}
    assert shipped == {p.name for p in (REPO / "rlsight" / "presets").glob("*.toml")}
    assert {"rlsight/report/static/report.js", "rlsight/report/static/report.css"} <= names
    assert not any(n.startswith(("tests/", "configs/", "benchmarks/")) for n in names)


@pytest.mark.slow
@pytest.mark.system  # installs the dependencies from the package index
def test_wheel_installs_into_a_fresh_venv_and_trains_outside_the_clone(wheel, tmp_path):
    assert not tmp_path.resolve().is_relative_to(REPO)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py, bin_dir = env_dir / "bin" / "python", env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(VIRTUAL_ENV=str(env_dir), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")

    def run(*cmd: str | Path, cwd: Path = tmp_path) -> str:
        out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
        assert out.returncode == 0, f"{cmd}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
        return out.stdout

    # torch first, at this environment's version (the CPU build where that is 2.13.0), as
    # scripts/install.sh does, so that pip does not pull a CUDA build; then the wheel with
    # everything its metadata asks for, with the procgen extra (training plays Procgen).
    # --no-compile skips byte-compiling torch (speed only).
    torch_pin = f"torch=={version('torch').split('+')[0]}"
    run(py, "-m", "pip", "install", "-q", "--no-compile", torch_pin, f"{wheel}[procgen]")
    run(py, "-m", "pip", "check")
    where = run(py, "-c", "import rlsight, sys; print(rlsight.__file__); print(sys.path)")
    assert where.splitlines()[0].startswith(str(env_dir)) and str(REPO) not in where, where

    work = tmp_path / "elsewhere"
    work.mkdir()
    run(bin_dir / "rlsight", "train", "--config", "cpu-quick", "--set", "train.total_steps=512",
        "--set", "env.num_envs=8", "--set", "env.num_test_envs=4", "--set", "ppo.num_steps=64", "--run-dir", "run",
        "--no-progress", cwd=work)
    config = tomllib.loads((work / "run" / "config.toml").read_text())
    # cpu-quick's settings with the overrides: one update of 8 x 64 steps
    assert config["train"]["total_steps"] == 512 and config["ppo"]["num_steps"] == 64
    assert config["env"]["use_backgrounds"] is False and config["ppo"]["anneal_lr"] is True
    header, *rows = (work / "run" / "metrics.csv").read_text().splitlines()
    assert rows and rows[-1].split(",")[header.split(",").index("step")] == "512"
