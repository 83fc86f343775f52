"""Atomic writes: a temporary file in the same folder, fsynced, then renamed.

A write that fails because the disk is full (ENOSPC, or EDQUOT for a quota)
raises ``DiskFullError`` naming the file and its disk; the temporary file is
removed and the file it would have replaced is untouched.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rlsight.errors import DiskFullError
from rlsight.runs import faults

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def mount_point(path: Path) -> Path:
    """The mount point of the file system that holds ``path``."""
    p = Path(os.path.abspath(path))
    while not p.exists():
        p = p.parent
    while not os.path.ismount(p):
        p = p.parent
    return p


def disk_full_message(path: Path) -> str:
    """One line: the file that could not be written, its disk and what is free there."""
    mount = mount_point(path)
    try:
        free = f"{shutil.disk_usage(mount).free / 2**20:.1f} MiB free"
    except OSError:
        free = "free space unknown"
    return f"{path}: no space left on the disk mounted at {mount} ({free})"


@contextmanager
def disk_full_as_error(path: str | Path) -> Iterator[None]:
    """Turn ENOSPC/EDQUOT raised inside the block into a one-line ``DiskFullError``."""
    try:
        yield
    except OSError as e:
        if e.errno in DISK_FULL:
            raise DiskFullError(disk_full_message(Path(path))) from None
        raise


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)``, then rename the result onto ``path``."""
    path = Path(path)
    with disk_full_as_error(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            write(Path(tmp))
            faults.point("write", path)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda p: p.write_bytes(data))


def atomic_dir(final: Path, fill: Callable[[Path], None]) -> None:
    """Fill a temporary sibling folder, then rename it to ``final`` (which must not
    exist, or be an empty folder)."""
    with disk_full_as_error(final):
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            fill(tmp)
            faults.point("dir", final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
