"""Map a ``--config`` argument (a TOML file or a preset name such as ``cpu-quick``) to its file."""

from __future__ import annotations

from pathlib import Path

from rlsight import presets
from rlsight.errors import ConfigError


def resolve_config_path(name: str | Path) -> Path:
    """A TOML file, or a preset name shipped in ``rlsight/presets/`` (e.g. ``cpu-quick``).

    Old preset names (``seed-best``) and old ``configs/NAME.toml`` paths resolve to
    the preset, with a note on stderr.
    """
    p = Path(name)
    if p.is_file():
        return p
    found = presets.find(str(name))
    if found is not None:
        return found
    raise ConfigError(f"config {str(name)!r} not found: give a TOML file or a preset ({', '.join(presets.names())})")
