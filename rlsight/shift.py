"""Evaluation under distribution shift, and the standard generalisation suite that runs
the family's shifts in one go: for Procgen other levels, the hard mode, backgrounds on or
off; for Atari the other flavours (game mode, difficulty; Machado et al. 2018) and the
sticky-action probability.

A shifted evaluation changes only what is played, never the network, so only the
family's ``SHIFT_KEYS`` may be set (plus ``--levels`` for Procgen).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from rlsight import config as C
from rlsight.errors import RlsightError

SHIFT_KEYS: dict[str, tuple[str, ...]] = {
    "procgen": ("env.distribution_mode", "env.use_backgrounds", "env.restrict_themes", "env.use_monochrome_assets"),
    "atari": ("env.game_mode", "env.difficulty", "env.sticky_actions"),
}
SUITES = ("generalisation",)


def parse_levels(text: str) -> tuple[int, int]:
    """``START:COUNT`` -> (start, count); ``0:0`` means every level seed.
    Level seeds stay below 2**31."""
    start, sep, count = text.partition(":")
    try:
        levels = (int(start), int(count)) if sep else None
    except ValueError:
        levels = None
    if levels is None or levels[0] < 0 or levels[1] < 0 or sum(levels) >= 2**31:
        raise RlsightError(f"--levels {text!r}: give START:COUNT with whole numbers >= 0, START+COUNT < 2**31, e.g. 1000:500 (0:0 = every level)")
    check_levels(levels, text)
    return levels


def check_levels(levels: tuple[int, int], text: str | None = None) -> None:
    """Refuse COUNT 0 with a START: procgen then draws from every level seed, ignoring the start."""
    if levels[1] == 0 and levels[0] > 0:
        shown = text if text is not None else f"{levels[0]}:{levels[1]}"
        raise RlsightError(f"--levels {shown!r}: COUNT 0 plays every level seed, from 0; give 0:0, or a COUNT > 0")


def apply_shift(cfg: C.Config, env_set: list[str] | None = None, levels: tuple[int, int] | None = None,
                plays: str = "test", levels_option: bool = True) -> tuple[C.Config, dict]:
    """A copy of the run's config with the shift applied, and the settings that differ
    from the run's (``{"distribution_mode": "hard", "levels": [1000, 500]}``; empty if none).
    ``plays``: the split the caller's environments play (saliency plays ``train``), so that
    a key that split does not read is refused rather than recorded as a shift.
    ``levels_option``: whether the caller's command has ``--levels`` (errors mention it only then)."""
    if not env_set and levels is None:
        return cfg, {}
    family = cfg.env.family
    keys = SHIFT_KEYS[family]
    if levels is not None and family != "procgen":
        raise RlsightError(f"--levels: a Procgen option; env.family = {family!r} has no levels (shift it with "
                           f"--set {', '.join(keys)})")
    if levels is not None:
        check_levels(levels)  # callers from Python (evaluate(levels=...)) too
    shifted = copy.deepcopy(cfg)
    for item in env_set or []:
        key, value = C.parse_override(item)
        if key not in keys:
            also = " (and --levels START:COUNT)" if family == "procgen" and levels_option else ""
            raise RlsightError(f"--set {key}: a shift of an env.family = {family!r} run can change only "
                               f"{', '.join(keys)}{also}")
        C.set_key(shifted, key, value)
    if plays == "train" and shifted.env.sticky_actions != cfg.env.sticky_actions:  # Atari's training protocol
        raise RlsightError("--set env.sticky_actions: a setting of the evaluation protocol (rlsight evaluate "
                           "--split test); the training protocol, played here, uses the run's env.train_sticky_actions")
    changed: dict = {}
    for key in keys:
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
    """Procgen: training levels, held-out levels, held-out in the other difficulty mode
    (hard for an easy run), and held-out with backgrounds switched (off for a run trained
    with them). Atari: the training protocol, the evaluation protocol, and the evaluation
    protocol in the game's next difficulty and next mode after the run's (where the game
    has another), as Machado et al. 2018 propose flavours for generalisation."""
    if env.family == "atari":
        return _atari_suite(env)
    other_mode = "easy" if env.distribution_mode == "hard" else "hard"
    backgrounds = not env.use_backgrounds
    return [
        SuiteEntry("train", "train"),
        SuiteEntry("held-out", "test"),
        SuiteEntry(f"held-out, {other_mode}", "test", [f"env.distribution_mode={other_mode}"]),
        SuiteEntry(f"held-out, backgrounds {'on' if backgrounds else 'off'}", "test",
                   [f"env.use_backgrounds={str(backgrounds).lower()}"]),
    ]


def _atari_suite(env: C.EnvConfig) -> list[SuiteEntry]:
    modes, difficulties = C.ATARI_FLAVOURS[env.game]
    out = [SuiteEntry("train", "train"), SuiteEntry("held-out", "test")]
    for key, now, valid in (("difficulty", env.difficulty, difficulties), ("game_mode", env.game_mode, modes)):
        others = [v for v in valid if v != now]
        if others:
            nxt = next((v for v in others if v > now), others[0])  # the next one up, else the first
            out.append(SuiteEntry(f"held-out, {key.replace('_', ' ')} {nxt}", "test", [f"env.{key}={nxt}"]))
    return out


def suite_table(results: list[dict]) -> str:
    """A plain-text table: setting, levels (Atari: the flavour, ``m0d1``), mean ± s.e., 95%
    interval, gap to train."""
    where = "levels" if all("start_level" in r for r in results) else "flavour"
    lines = [f"{'setting':30s} {where:>16s} {'return ± s.e.':>15s} {'95% interval':>17s} {'gap':>7s}"]
    for r in results:
        se = r["stderr"] if not math.isnan(r["stderr"]) else 0.0
        lo, hi = r["mean_return"] - 1.96 * se, r["mean_return"] + 1.96 * se
        played = (f"{r['start_level']:>8d}+{r['num_levels']:<7d}" if "start_level" in r
                  else f"{C.flavour_name(r.get('game_mode', 0), r.get('difficulty', 0)):>16s}")
        lines.append(f"{r['suite_entry']:30s} {played} "
                     f"{r['mean_return']:7.2f} ± {r['stderr']:5.2f} {f'[{lo:.2f}, {hi:.2f}]':>17s} {r['gap']:7.2f}")
    return "\n".join(lines)
