"""rlsight.envs.procgen (the Procgen family): a missing system library gives a one-line error naming it
and the packages to install, not cffi's traceback."""

from __future__ import annotations

import pytest

from rlsight.config import EnvConfig
from rlsight.envs.procgen import vecenv as procgen_env
from rlsight.errors import SystemLibraryError

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


def test_real_environments_still_start():
    env = procgen_env.ProcgenVecEnv(EnvConfig(), "train", 2, 0)
    rew, obs, first = env.observe()
    assert obs.shape == (2, 64, 64, 3) and first.all()
    env.close()
