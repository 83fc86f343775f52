"""One writer per run directory: ``RUN/train.lock``, held with ``flock`` while a
process trains into the run.

The kernel drops an ``flock`` when its holder exits, however it exits (SIGKILL,
a lost SLURM job), so a lock left by a dead process never blocks: the next
``rlsight train --resume`` takes it over. The file records the holder's PID and
host only to name them in the error; the lock itself is the ``flock``. On NFS
Linux maps ``flock`` to a POSIX lock the server arbitrates (NFSv4, or NFSv3
with lockd), so two hosts that share the run directory exclude each other too.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import IO

from rlsight.errors import RunDirError

LOCK = "train.lock"


class RunLocked(RunDirError):
    """The run directory is being trained by another process."""


class RunLock:
    """The training lock of one run directory; use ``with RunLock(path, wait_s):``."""

    def __init__(self, run_path: str | Path, wait_s: float = 0.0):
        self.path = Path(run_path) / LOCK
        self.wait_s = wait_s
        self._file: IO[str] | None = None

    def acquire(self) -> RunLock:
        """Take the lock, waiting up to ``wait_s`` seconds; raise ``RunLocked`` naming the holder."""
        f = open(self.path, "a+")  # never truncates: the holder's PID stays readable until we own it
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _describe(f)
                    f.close()
                    raise RunLocked(
                        f"{self.path.parent} is being trained by {holder} (lock {self.path}); wait for it to "
                        f"finish, or stop it and run `rlsight train --resume {self.path.parent}`"
                    ) from None
                time.sleep(0.2)
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        """Drop the lock (the file stays; its contents no longer matter)."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def holder(run_path: str | Path) -> str | None:
    """Who trains into ``run_path`` now (``"process PID on HOST"``), or None when nobody does."""
    p = Path(run_path) / LOCK
    if not p.is_file():
        return None
    with open(p) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _describe(f)
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


def _describe(f: IO[str]) -> str:
    f.seek(0)
    try:
        d = json.loads(f.read() or "{}")
    except json.JSONDecodeError:
        d = {}
    return f"process {d.get('pid', '?')} on {d.get('host', '?')}" + (f" (since {d['since']})" if "since" in d else "")
