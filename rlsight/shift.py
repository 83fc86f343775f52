"""Evaluation under distribution shift: other levels, Procgen's hard mode, backgrounds
on or off, and the standard generalisation suite that runs them in one go.

A shifted evaluation changes only how the levels look and which levels are played,
never the network, so only these env keys may be set (plus ``--levels``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from rlsight import config as C
from rlsight.errors import RlsightError

SHIFT_KEYS = ("env.distribution_mode", "env.use_backgrounds", "env.restrict_themes", "env.use_monochrome_assets")
SUITES = ("generalisation",)


def parse_levels(text: str) -> tuple[int, int]:
    """``START:COUNT`` -> (start, count); COUNT 0 means every level from START on.
    Level seeds stay below 2**31."""
    start, sep, count = text.partition(":")
    try:
        levels = (int(start), int(count)) if sep else None
    except ValueError:
        levels = None
    if levels is None or levels[0] < 0 or levels[1] < 0 or sum(levels) >= 2**31:
        raise RlsightError(f"--levels {text!r}: give START:COUNT with whole numbers >= 0, START+COUNT < 2**31, e.g. 1000:500 (COUNT 0 = unbounded)")
    return levels


def apply_shift(cfg: C.Config, env_set: list[str] | None = None,
                levels: tuple[int, int] | None = None) -> tuple[C.Config, dict]:
    """A copy of the run's config with the shift applied, and the settings that differ
    from the run's (``{"distribution_mode": "hard", "levels": [1000, 500]}``; empty if none)."""
    if not env_set and levels is None:
        return cfg, {}
    shifted = copy.deepcopy(cfg)
    for item in env_set or []:
        key, value = C.parse_override(item)
        if key not in SHIFT_KEYS:
            raise RlsightError(f"--set {key}: evaluation can change only {', '.join(SHIFT_KEYS)} (and --levels START:COUNT)")
        C.set_key(shifted, key, value)
    changed: dict = {}
    for key in SHIFT_KEYS:
        name = key.split(".", 1)[1]
        if getattr(shifted.env, name) != getattr(cfg.env, name):
            changed[name] = getattr(shifted.env, name)
    C.validate(shifted)
    if levels is not None:  # any range, training levels included: played through the training slot
        shifted.env.start_level, shifted.env.num_levels = levels
        changed["levels"] = list(levels)
    return shifted, changed


def setting_label(changed: dict) -> str:
    """A short, file-name-safe label of a shift: ``distribution_mode=hard,levels=1000+500``."""
    def fmt(v) -> str:
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, list):
            return "+".join(str(x) for x in v)
        return str(v)
    return ",".join(f"{k}={fmt(v)}" for k, v in changed.items())


@dataclass
class SuiteEntry:
    """One evaluation of a suite: its name, split and shift."""
    name: str
    split: str
    env_set: list[str] = field(default_factory=list)


def generalisation_suite(env: C.EnvConfig) -> list[SuiteEntry]:
    """Training levels, held-out levels, held-out in the other difficulty mode (hard for
    an easy run), and held-out with backgrounds switched (off for a run trained with them)."""
    other_mode = "easy" if env.distribution_mode == "hard" else "hard"
    backgrounds = not env.use_backgrounds
    return [
        SuiteEntry("train", "train"),
        SuiteEntry("held-out", "test"),
        SuiteEntry(f"held-out, {other_mode}", "test", [f"env.distribution_mode={other_mode}"]),
        SuiteEntry(f"held-out, backgrounds {'on' if backgrounds else 'off'}", "test",
                   [f"env.use_backgrounds={str(backgrounds).lower()}"]),
    ]


def suite_table(results: list[dict]) -> str:
    """A plain-text table: setting, levels, mean ± s.e., 95% interval, gap to train."""
    lines = [f"{'setting':30s} {'levels':>16s} {'return ± s.e.':>15s} {'95% interval':>17s} {'gap':>7s}"]
    for r in results:
        se = r["stderr"] if not math.isnan(r["stderr"]) else 0.0
        lo, hi = r["mean_return"] - 1.96 * se, r["mean_return"] + 1.96 * se
        lines.append(f"{r['suite_entry']:30s} {r['start_level']:>8d}+{r['num_levels']:<7d} "
                     f"{r['mean_return']:7.2f} ± {r['stderr']:5.2f} {f'[{lo:.2f}, {hi:.2f}]':>17s} {r['gap']:7.2f}")
    return "\n".join(lines)
