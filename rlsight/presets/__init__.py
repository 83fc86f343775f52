"""Configuration presets shipped with rlsight (``rlsight train --config cpu-quick``).

Each preset is a TOML file in this package, so it is in the wheel as package data.
Old names keep working as aliases: resolving one prints on stderr where it went.
"""

from __future__ import annotations

import sys
from pathlib import Path

PRESETS_DIR = Path(__file__).resolve().parent

#: old preset name -> current name
ALIASES = {"seed-baseline": "original-baseline", "seed-best": "original-best"}


def names() -> list[str]:
    """The preset names, sorted (aliases not included)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def find(name: str) -> Path | None:
    """The TOML file of preset ``name`` (or of an old alias, with a note on stderr); None if there is none.

    ``configs/NAME.toml``, where the presets lived before they moved into the
    package, resolves to preset NAME the same way.
    """
    p = Path(name)
    stem = p.stem if p.suffix == ".toml" and p.parent.name == "configs" else name
    current = ALIASES.get(stem, stem)
    if not current or current in (".", "..") or Path(current).name != current:
        return None
    path = PRESETS_DIR / f"{current}.toml"
    if not path.is_file():
        return None
    if current != name:
        print(f"rlsight: config {name!r} is now the preset {current!r} ({path})", file=sys.stderr)
    return path
