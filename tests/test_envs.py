"""rlsight.envs.procgen (the Procgen family): a missing system library gives a one-line error naming it
and the packages to install, not cffi's traceback; a missing procgen (an install without the
`procgen` extra) gives one naming the extra."""

from __future__ import annotations

import sys

import pytest

from rlsight.config import EnvConfig
from rlsight.envs.procgen import vecenv as procgen_env
from rlsight.errors import MissingExtraError, SystemLibraryError

CFFI_MESSAGE = ("cannot load library '/site/procgen/data/prebuilt/libenv.so': libGL.so.1: cannot open shared "
                "object file: No such file or directory.  Additionally, ctypes.util.find_library() did not "
                "manage to locate a library called '/site/procgen/data/prebuilt/libenv.so'")


def _failing(message: str):
    def make(**kwargs):
        raise OSError(message)
    return lambda: make


def test_missing_system_library_names_it_and_the_packages(monkeypatch):
    monkeypatch.setattr(procgen_env, "_import_procgen", _failing(CFFI_MESSAGE))
    with pytest.raises(SystemLibraryError) as e:
        procgen_env.ProcgenVecEnv(EnvConfig(), "train", 2, 0)
    text = str(e.value)
    assert "\n" not in text
    assert "(libGL.so.1: cannot open shared object file: No such file or directory)" in text
    assert "apt-get install libgl1" in text


def test_other_os_errors_pass_through(monkeypatch):
    monkeypatch.setattr(procgen_env, "_import_procgen", _failing("[Errno 24] Too many open files"))
    with pytest.raises(OSError, match="Too many open files"):
        procgen_env.ProcgenVecEnv(EnvConfig(), "train", 2, 0)


@pytest.mark.procgen
def test_real_environments_still_start():
    env = procgen_env.ProcgenVecEnv(EnvConfig(), "train", 2, 0)
    rew, obs, first = env.observe()
    assert obs.shape == (2, 64, 64, 3) and first.all()
    env.close()


def _without_procgen(monkeypatch):
    """Import procgen as an install without the `procgen` extra would: ModuleNotFoundError."""
    monkeypatch.setitem(sys.modules, "procgen", None)


def test_missing_procgen_names_the_extra_to_install(monkeypatch):
    _without_procgen(monkeypatch)
    with pytest.raises(MissingExtraError) as e:
        procgen_env.ProcgenVecEnv(EnvConfig(), "train", 2, 0)
    text = str(e.value)
    assert "\n" not in text
    assert "no module 'procgen'" in text and "pip install 'rlsight[procgen]'" in text


def test_other_missing_modules_are_not_blamed_on_procgen(monkeypatch):
    def broken():
        raise ModuleNotFoundError("No module named 'gym'", name="gym")
    monkeypatch.setattr(procgen_env, "_import_procgen", lambda: broken())
    with pytest.raises(ModuleNotFoundError, match="gym"):
        procgen_env.ProcgenVecEnv(EnvConfig(), "train", 2, 0)


def test_train_without_procgen_is_one_line_and_makes_no_run(monkeypatch, tmp_path):
    from tests.test_cli import rlsight_here

    _without_procgen(monkeypatch)
    run = tmp_path / "run"
    out = rlsight_here("train", "--config", "cpu-quick", "--run-dir", str(run), "--no-progress")
    assert out.returncode == 2, out
    (error,) = [line for line in out.stderr.splitlines() if "error" in line]  # after "run directory: ..."
    assert error.startswith("rlsight train: error: env.family = 'procgen' needs") and "Traceback" not in out.stderr
    assert error.endswith("pip install 'rlsight[procgen]' (Python 3.11 or 3.12, numpy<2; scripts/install.sh does it)")
    assert not run.exists()  # refused before the run directory is made
