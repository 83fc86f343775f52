"""Atomic writes: a temporary file in the same folder, fsynced, then renamed.

The one module of the package that renames temporary files and folders into
place; every writer (run directories, reports, videos) goes through it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], object], *, suffix: str = ".tmp",
                 ordinary_permissions: bool = False, before_replace: Callable[[], None] | None = None) -> None:
    """Call ``write(tmp_path)``, then rename the result onto ``path``.

    ``suffix`` ends the temporary file's name (writers that choose a format by the
    extension need the real one). ``ordinary_permissions`` gives the file the
    umask's permissions instead of the private ones of a temporary file.
    ``before_replace`` runs just before the rename and may raise to abandon the
    write (e.g. when ``path`` appeared meanwhile); the temporary file is removed.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if ordinary_permissions:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda p: p.write_text(text))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda p: p.write_bytes(data))


def atomic_dir(final: Path, fill: Callable[[Path], None], *, replace: bool = False) -> None:
    """Fill a temporary sibling folder, then rename it to ``final``.

    ``final`` must not exist, unless ``replace``: then an existing ``final`` is moved
    aside, the new folder takes its name, and the old one is removed last.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        fill(tmp)
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
