"""scripts/venv.sh: the install scripts use the active virtual environment, or create
and use the project's own, and nothing else."""

from __future__ import annotations

import os
import shutil
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
    """A checkout holding only the test and install scripts and a pyproject.toml, and an
    'active environment' whose python records each pip, mypy and pytest call (and runs
    everything else for real)."""
    repo = tmp_path / "checkout"
    (repo / "scripts").mkdir(parents=True)
    for name in ("install.sh", "venv.sh", "test.sh"):
        shutil.copy2(REPO / "scripts" / name, repo / "scripts" / name)
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    log = tmp_path / "pip.log"
    py = env / "bin" / "python"
    py.write_text(f'#!/usr/bin/env bash\n'
                  f'case "$1 $2" in "-m pip"|"-m mypy") echo "$*" >> {log}; [ ! -e {tmp_path}/pip-fails ] || exit 1;; esac\n'
                  f'if [ "$1 $2 $3" = "-m pip install" ]; then mkdir -p {env}/lib/python3/site-packages/rlsight-0.dist-info; fi\n'
                  f'case "$1 $2" in "-m pip"|"-m mypy") exit 0;; esac\n'
                  f'if [ "$1 $2" = "-m pytest" ]; then echo "$* OMP_NUM_THREADS=${{OMP_NUM_THREADS:-}}" >> {log}; exit 0; fi\n'
                  f'exec {sys.executable} "$@"\n')
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
    shutil.rmtree(env / "lib" / "python3" / "site-packages" / "rlsight-0.dist-info")  # pip uninstall rlsight
    assert pip_calls("test") == ["-m pip install -q -e .[procgen,test]", "-m pip check"]
    assert pip_calls("test") == []
    with open(repo / "pyproject.toml", "a") as f:
        f.write("# a change\n")
    assert pip_calls() == ["-m pip install -q -e .[procgen]", "-m pip check"]
    assert pip_calls() == []
    assert pip_calls("test") == ["-m pip install -q -e .[procgen,test]", "-m pip check"]  # plain does not cover test


def test_a_failed_install_leaves_no_stamp(tmp_path):
    repo, env, log = _fake_env(tmp_path)
    assert _install(repo, env, "test").returncode == 0
    (tmp_path / "pip-fails").touch()
    (repo / "pyproject.toml").write_text('[project]\nname = "y"\n')
    assert _install(repo, env, "test").returncode != 0
    assert not (env / ".rlsight-install").exists()
    log.unlink()
    assert _install(repo, env, "test").returncode != 0 and log.exists()  # tried again, not skipped


def test_the_fast_tier_runs_on_two_workers_and_the_others_in_one_process(tmp_path):
    repo, env, log = _fake_env(tmp_path)
    assert _install(repo, env, "test").returncode == 0  # installed: test.sh's install step is quiet

    def pytest_call(*args: str, **env_over: str) -> str:
        log.unlink(missing_ok=True)
        e = {k: v for k, v in os.environ.items() if k not in ("RLSIGHT_VENV", "PYTHON", "OMP_NUM_THREADS")}
        e.update(VIRTUAL_ENV=str(env), **env_over)
        out = subprocess.run(["bash", str(repo / "scripts" / "test.sh"), *args], env=e, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        calls = log.read_text().splitlines()
        assert calls[0] == "-m mypy" and len(calls) == 2, calls  # no pip: installed already
        return calls[1]

    fast = ("-m", "not slow and not system")
    assert pytest_call(*fast) == "-m pytest -n 2 --dist worksteal -m not slow and not system OMP_NUM_THREADS=1"
    assert pytest_call(*fast, "-q", RLSIGHT_TEST_WORKERS="3") == "-m pytest -n 3 --dist worksteal -m not slow and not system -q OMP_NUM_THREADS=1"
    assert pytest_call(*fast, RLSIGHT_TEST_WORKERS="1") == "-m pytest -m not slow and not system OMP_NUM_THREADS="
    assert pytest_call(*fast, "-n", "4") == "-m pytest -m not slow and not system -n 4 OMP_NUM_THREADS="  # yours wins
    assert pytest_call(*fast, "-p", "no:xdist") == "-m pytest -m not slow and not system -p no:xdist OMP_NUM_THREADS="
    assert pytest_call("-m", "slow and not system") == "-m pytest -m slow and not system OMP_NUM_THREADS="
    assert pytest_call("tests/test_x.py", "-mnot slow and not system") == \
        "-m pytest -n 2 --dist worksteal tests/test_x.py -mnot slow and not system OMP_NUM_THREADS=1"


def test_a_bad_worker_count_is_one_line(tmp_path):
    repo, env, log = _fake_env(tmp_path)
    e = {k: v for k, v in os.environ.items() if k not in ("RLSIGHT_VENV", "PYTHON")}
    e.update(VIRTUAL_ENV=str(env), RLSIGHT_TEST_WORKERS="two")
    out = subprocess.run(["bash", str(repo / "scripts" / "test.sh"), "-m", "not slow and not system"],
                         env=e, capture_output=True, text=True)
    assert out.returncode == 2 and not log.exists()
    assert out.stderr.strip() == "rlsight: RLSIGHT_TEST_WORKERS=two: must be a number of processes (1: no workers)"
