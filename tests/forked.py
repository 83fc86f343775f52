"""Run ``rlsight`` commands in processes forked from a server that imported rlsight,
torch and procgen once (multiprocessing's forkserver, preloading
tests/forkserver_preload.py). Each is a real process that SIGKILL can stop at any
moment, without the 3-5 s of interpreter start-up, imports and procgen's first
environment that a fresh ``python -m rlsight.cli.main`` pays: the kill tests start
hundreds (tests/kill_campaign.py, tests/test_sweep_driver_kills.py)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from pathlib import Path

_ctx = None


def _context():
    global _ctx
    if _ctx is None:
        _ctx = mp.get_context("forkserver")
        _ctx.set_forkserver_preload(["tests.forkserver_preload"])
    return _ctx


def _run(argv: list[str], env: dict[str, str], out: str) -> None:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    from rlsight.cli.main import main

    sys.exit(main(argv))


class Command:
    """``rlsight ARGV`` with environment ``env``, started in a forked process; its stdout
    and stderr go to the file ``out``."""

    def __init__(self, argv: list[str], env: dict[str, str], out: Path):
        self.out = Path(out)
        self.proc = _context().Process(target=_run, args=(list(argv), dict(env), str(out)))
        self.proc.start()

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit status (minus the signal number when killed), or None if still running after ``timeout``."""
        self.proc.join(timeout)
        return self.proc.exitcode

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process, if it still runs."""
        if self.proc.exitcode is None:
            os.kill(self.proc.pid, signum)

    def kill(self) -> int:
        """SIGKILL the process; returns its exit status (``-signal.SIGKILL`` unless it had ended)."""
        if self.proc.exitcode is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.join()
        assert self.proc.exitcode is not None
        return self.proc.exitcode

    def output(self) -> str:
        """What the command printed."""
        return self.out.read_text() if self.out.exists() else ""
