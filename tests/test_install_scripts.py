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
