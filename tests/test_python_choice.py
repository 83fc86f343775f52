"""Choosing the Python: scripts/test-numpy2.sh takes 3.12 (PATH, then pyenv) and fails in
one line, creating nothing, when there is none (never another version); scripts/venv.sh
names a PYTHON that is on PATH but does not run (a pyenv shim)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BASH = shutil.which("bash") or "/bin/bash"


def _tools_only_path(tmp_path: Path) -> Path:
    """A PATH directory with the tools the script needs and no python3.12."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "ls", "sort"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def _run(tmp_path: Path, extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHON", "PYENV_ROOT")}
    env.update({"RLSIGHT_NP2_VENV": str(tmp_path / "np2"), "HOME": str(tmp_path / "home")})
    env.update(extra)
    return subprocess.run([BASH, "scripts/test-numpy2.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_no_python_312_is_one_line_naming_the_fix_and_nothing_is_created(tmp_path):
    bin_dir = _tools_only_path(tmp_path)
    # a pyenv shim that is on PATH but does not run (pyenv: "command not found")
    shim = bin_dir / "python3.12"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    # a pyenv directory named 3.12 whose python is another version: this test's own
    # interpreter, or (when the test itself runs on 3.12) one that fails every check
    fake = tmp_path / "pyenv" / "versions" / "3.12.99" / "bin"
    fake.mkdir(parents=True)
    if sys.version_info[:2] != (3, 12):
        (fake / "python").symlink_to(sys.executable)
    else:
        (fake / "python").write_text("#!/bin/sh\nexit 1\n")
        (fake / "python").chmod(0o755)
    out = _run(tmp_path, {"PATH": str(bin_dir), "PYENV_ROOT": str(tmp_path / "pyenv")})
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("numpy2 check: no Python 3.12 found")
    assert "pyenv install 3.12" in lines[0] and "PYTHON=" in lines[0]
    assert not (tmp_path / "np2").exists()


def test_a_python_that_does_not_run_is_one_line(tmp_path):
    bin_dir = _tools_only_path(tmp_path)
    out = _run(tmp_path, {"PATH": str(bin_dir), "PYTHON": "python-no-such-3.99"})
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "numpy2 check: PYTHON=python-no-such-3.99 not found: give a Python 3.11 or newer, or unset PYTHON to use 3.12"
    )
    assert not (tmp_path / "np2").exists()


def test_the_search_returns_a_real_312_when_the_machine_has_one(tmp_path):
    out = subprocess.run(
        [BASH, "-c", "source scripts/find-python.sh && rlsight_find_python 3.12"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0:
        pytest.skip("no Python 3.12 on this machine (PATH or pyenv)")
    found = out.stdout.strip()
    version = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert version.stdout.strip() == "(3, 12)"


def test_venv_sh_names_a_python_that_is_on_path_but_does_not_run(tmp_path):
    bin_dir = _tools_only_path(tmp_path)
    shim = bin_dir / "python3.13"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHON")}
    env.update({"PATH": str(bin_dir), "PYTHON": "python3.13", "RLSIGHT_VENV": str(tmp_path / "v")})
    out = subprocess.run(
        [BASH, "-c", "source scripts/venv.sh && rlsight_use_venv"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "rlsight: python3.13 is on PATH but does not run (a pyenv shim for a version not selected here?): "
        "set PYTHON to the interpreter's full path, e.g. ~/.pyenv/versions/3.12.1/bin/python"
    ]
    assert not (tmp_path / "v").exists()
