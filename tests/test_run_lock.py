"""One writer per run directory: a second trainer is refused naming the PID that
holds the run; a lock left by a killed process is taken over."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlsight.errors import RunDirError
from rlsight.runs import RunDir
from rlsight.runs.lock import LOCK, RunLock, RunLocked, holder
from rlsight.training import train
from tests.conftest import tiny_config

REPO = Path(__file__).resolve().parent.parent
HOLD = "import sys, time; from rlsight.runs.lock import RunLock; lock = RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(600)"


def _holder_process(run: Path) -> subprocess.Popen:
    """A real second process that takes the run's lock and keeps it."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def _snapshot(run: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(run)): (p.stat().st_size, p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file()}


@pytest.mark.procgen
def test_second_resume_is_refused_naming_the_pid_and_writes_nothing(tmp_path):
    run = tmp_path / "run"
    train(tiny_config(train__total_steps=512, train__save_step=256), run, progress=False)
    RunDir(run).update_info(status="running")  # as a run killed during training looks
    p = _holder_process(run)
    try:
        before = _snapshot(run)
        r = subprocess.run([sys.executable, "-m", "rlsight.cli.main", "train", "--resume", str(run), "--no-progress"],
                           capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
        assert r.returncode == 2
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert f"process {p.pid} on {socket.gethostname()}" in lines[0]
        assert _snapshot(run) == before  # nothing written, not even the lock file
        assert holder(run) is not None and str(p.pid) in holder(run)
    finally:
        p.kill()
        p.wait()


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    p = _holder_process(run)
    with pytest.raises(RunLocked, match=str(p.pid)):
        RunLock(run).acquire()
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert str(p.pid) in (run / LOCK).read_text()  # the stale record is still on disk ...
    assert holder(run) is None  # ... but the kernel dropped the lock with the process
    with RunLock(run):
        assert str(os.getpid()) in (run / LOCK).read_text()
        assert str(os.getpid()) in holder(run)
    assert holder(run) is None


def test_waiting_lock_gets_the_run_when_the_holder_dies(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    p = _holder_process(run)
    t0 = time.monotonic()
    subprocess.Popen(["sh", "-c", f"sleep 1; kill -9 {p.pid}"])
    with RunLock(run, wait_s=30):
        assert time.monotonic() - t0 >= 0.9
    p.wait()


@pytest.mark.procgen
def test_overwrite_refuses_a_run_that_is_training(tmp_path):
    run = tmp_path / "run"
    train(tiny_config(train__total_steps=256, train__save_step=256), run, progress=False)
    p = _holder_process(run)
    try:
        with pytest.raises(RunDirError, match=f"process {p.pid}"):
            RunDir.create(run, tiny_config(), overwrite=True)
        assert RunDir.open(run).info()["status"] == "finished"
    finally:
        p.kill()
        p.wait()
