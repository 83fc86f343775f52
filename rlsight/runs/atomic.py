"""Atomic writes: a temporary file in the same folder, fsynced, then renamed.

The one module of the package that renames temporary files and folders into
place; every writer (run directories, reports, videos) goes through it.

A write that fails because the disk is full (ENOSPC, or EDQUOT for a quota)
raises ``DiskFullError`` naming the file and its disk; the temporary file is
removed and the file it would have replaced is untouched.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
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


def current_umask() -> int:
    """The process's umask, read without changing it where Linux says it (``/proc/self/status``;
    setting and restoring it would briefly give files that other threads create mode 0o777)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], object], *, suffix: str = ".tmp",
                 ordinary_permissions: bool = True, before_replace: Callable[[], None] | None = None,
                 point: str = "write") -> None:
    """Call ``write(tmp_path)``, then rename the result onto ``path``.

    ``suffix`` ends the temporary file's name (writers that choose a format by the
    extension need the real one). ``ordinary_permissions`` (the default) gives the file
    the umask's permissions (0o644 under the usual 0o022) instead of the private ones of
    a temporary file, so that colleagues on a shared cluster can read a run.
    ``before_replace`` runs just before the rename and may raise to abandon the
    write (e.g. when ``path`` appeared meanwhile); the temporary file is removed.
    ``point`` names the fault point (``rlsight.runs.faults``) between writing and renaming.
    """
    path = Path(path)
    with disk_full_as_error(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        os.close(fd)
        try:
            write(Path(tmp))
            faults.point(point, path)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            if ordinary_permissions:
                os.chmod(tmp, 0o666 & ~current_umask())
            if before_replace is not None:
                before_replace()
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def check_new_file(path: str | Path, option: str, overwrite: bool = False,
                   suffixes: tuple[str, ...] | None = None) -> Path:
    """``path`` checked before any work is done for it: one of ``suffixes`` (where given),
    an existing folder, not itself a folder, and not an existing file unless ``overwrite``
    (``option`` names the command-line option in the one-line error)."""
    from rlsight.errors import RlsightError

    p = Path(path)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise RlsightError(f"{option} {p}: the file name must end in {', '.join(suffixes)}")
    if not p.parent.is_dir():
        raise RlsightError(f"{option} {p}: folder {p.parent} does not exist")
    if p.is_dir():
        raise RlsightError(f"{option} {p}: is a folder; give a file name")
    if p.exists() and not overwrite:
        raise RlsightError(f"{option} {p}: exists; use --overwrite to replace it")
    return p


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda p: p.write_text(text))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda p: p.write_bytes(data))


def atomic_dir(final: Path, fill: Callable[[Path], None], *, replace: bool = False, point: str = "dir") -> None:
    """Fill a temporary sibling folder, then rename it to ``final``.

    ``final`` must not exist (or be an empty folder), unless ``replace``: then an
    existing ``final`` is moved aside, the new folder takes its name, and the old
    one is removed last. ``point`` names the fault point (``rlsight.runs.faults``).
    """
    with disk_full_as_error(final):
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp's folder is private; a run is not
            fill(tmp)
            faults.point(point, final)
            old = None
            if replace and final.exists():
                old = final.with_name(f".{final.name}.old-{time.time_ns()}")
                os.replace(final, old)
            os.replace(tmp, final)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
