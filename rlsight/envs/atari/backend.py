"""Importing the Atari backend (ale-py, and OpenCV for the resize) with an install hint."""

from __future__ import annotations

from types import ModuleType

from rlsight.errors import RlsightError

INSTALL = "pip install 'rlsight[atari]' (ale-py==0.12.1 with its ROMs, opencv-python<4.11)"


def import_ale() -> ModuleType:
    """The ``ale_py`` module, or a one-line error naming the install command."""
    try:
        import ale_py
        import ale_py.roms  # noqa: F401  (a submodule: not loaded by ``import ale_py`` unless gymnasium is installed)
    except ImportError:
        raise RlsightError(f"env.family = 'atari' needs ale-py, which is not installed; {INSTALL}") from None
    return ale_py


def import_cv2() -> ModuleType:
    """The ``cv2`` module (frame resizing), or a one-line error naming the install command."""
    try:
        import cv2
    except ImportError:
        raise RlsightError(f"env.family = 'atari' needs OpenCV to resize frames, which is not installed; {INSTALL}") from None
    return cv2


def rom_path(ale_py: ModuleType, rom_id: str) -> str:
    """The ROM file of ``rom_id`` bundled with ale-py, or a one-line error."""
    try:
        path = ale_py.roms.get_rom_path(rom_id)
    except Exception:  # ale-py raises its own error type for an unknown ROM
        path = None
    if not path:
        raise RlsightError(f"ale-py has no ROM {rom_id!r}; reinstall it with its ROMs: {INSTALL}")
    return str(path)


def require_atari() -> None:
    """The family's ``require``: ale-py and OpenCV importable, or the one-line error."""
    import_ale()
    import_cv2()
