"""Preset names (``cpu-quick``, ...) and the files they name."""

from __future__ import annotations

from pathlib import Path

from rlsight.errors import ConfigError

_REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def resolve_config_path(name: str | Path) -> Path:
    """A path, or a preset name from ``configs/`` (e.g. ``cpu-quick``)."""
    p = Path(name)
    if p.is_file():
        return p
    for root in (Path.cwd() / "configs", _REPO_CONFIGS):
        cand = root / f"{name}.toml"
        if cand.is_file():
            return cand
    presets = sorted(q.stem for q in _REPO_CONFIGS.glob("*.toml"))
    raise ConfigError(f"config {str(name)!r} not found: give a TOML file or a preset ({', '.join(presets)})")
