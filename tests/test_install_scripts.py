"""scripts/venv.sh: the install scripts use the active virtual environment, or create
and use the project's own, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROBE = 'source scripts/venv.sh && rlsight_use_venv && echo "PY=$RLSIGHT_PY" && echo "VENV=$VIRTUAL_ENV" && command -v python'


def _bash(env_over: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "RLSIGHT_VENV", "PYTHON")}
    env.update(env_over)
    return subprocess.run(["bash", "-c", f"set -euo pipefail; {PROBE}"], cwd=REPO, env=env, capture_output=True, text=True)


def _base_python() -> str:
    """The interpreter outside any virtual environment (what a new user's python3 is)."""
    return getattr(sys, "_base_executable", sys.executable)


def test_an_active_environment_is_used_and_nothing_is_created(tmp_path):
    fake = tmp_path / "active"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "python").symlink_to(sys.executable)
    out = _bash({"VIRTUAL_ENV": str(fake), "RLSIGHT_VENV": str(tmp_path / "never")})
    assert out.returncode == 0, out.stderr
    assert f"PY={fake}/bin/python" in out.stdout and "using the active virtual environment" in out.stderr
    assert not (tmp_path / "never").exists()


def test_without_an_active_environment_the_project_venv_is_created_and_activated(tmp_path):
    target = tmp_path / "proj-venv"
    out = _bash({"RLSIGHT_VENV": str(target), "PYTHON": _base_python()})
    assert out.returncode == 0, out.stderr
    assert f"PY={target}/bin/python" in out.stdout and f"VENV={target}" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == f"{target}/bin/python"  # activated: first on PATH
    assert "include-system-site-packages = false" in (target / "pyvenv.cfg").read_text()
    pip = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, text=True)
    assert pip.returncode == 0 and str(target) in pip.stdout
    again = _bash({"RLSIGHT_VENV": str(target), "PYTHON": _base_python()})  # reused, not recreated
    assert again.returncode == 0 and "creating" not in again.stderr


def test_a_missing_python_is_one_clear_error(tmp_path):
    out = _bash({"RLSIGHT_VENV": str(tmp_path / "v"), "PYTHON": "python-no-such-3.99"})
    assert out.returncode == 1
    assert out.stderr.strip() == "rlsight: python-no-such-3.99 not found: install Python 3.11 or newer, or set PYTHON"
    assert not (tmp_path / "v").exists()


def _fake_env(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A checkout holding only the install scripts and a pyproject.toml, and an 'active
    environment' whose python records each pip call (and runs everything else for real)."""
    repo = tmp_path / "checkout"
    (repo / "scripts").mkdir(parents=True)
    for name in ("install.sh", "venv.sh"):
        (repo / "scripts" / name).write_text((REPO / "scripts" / name).read_text())
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    log = tmp_path / "pip.log"
    py = env / "bin" / "python"
    py.write_text(f'#!/usr/bin/env bash\nif [ "$1 $2" = "-m pip" ]; then echo "$*" >> {log}; exit 0; fi\nexec {sys.executable} "$@"\n')
    py.chmod(0o755)
    return repo, env, log


def _install(repo: Path, env: Path, *args: str) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k not in ("RLSIGHT_VENV", "PYTHON")}
    e["VIRTUAL_ENV"] = str(env)
    return subprocess.run(["bash", str(repo / "scripts" / "install.sh"), *args], env=e, capture_output=True, text=True)


def test_install_skips_pip_until_pyproject_or_the_extras_change(tmp_path):
    repo, env, log = _fake_env(tmp_path)

    def pip_calls(*args: str) -> list[str]:
        log.unlink(missing_ok=True)
        out = _install(repo, env, *args)
        assert out.returncode == 0, out.stderr
        return log.read_text().splitlines() if log.exists() else []

    assert pip_calls("test") == ["-m pip install -q -e .[procgen,test]", "-m pip check"]
    assert pip_calls("test") == []  # installed, nothing changed: no pip at all
    assert pip_calls() == []  # the test extras include the plain install
    with open(repo / "pyproject.toml", "a") as f:
        f.write("# a change\n")
    assert pip_calls() == ["-m pip install -q -e .[procgen]", "-m pip check"]
    assert pip_calls() == []
    assert pip_calls("test") == ["-m pip install -q -e .[procgen,test]", "-m pip check"]  # plain does not cover test


def test_a_failed_install_leaves_no_stamp(tmp_path):
    repo, env, log = _fake_env(tmp_path)
    assert _install(repo, env, "test").returncode == 0
    py = env / "bin" / "python"
    py.write_text(py.read_text().replace("exit 0; fi", "exit 1; fi"))  # pip now fails
    (repo / "pyproject.toml").write_text('[project]\nname = "y"\n')
    assert _install(repo, env, "test").returncode != 0
    assert not (env / ".rlsight-install").exists()
    log.unlink()
    assert _install(repo, env, "test").returncode != 0 and log.exists()  # tried again, not skipped
