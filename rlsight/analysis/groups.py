"""Grouping runs: runs whose configs differ only in the seed are replicates of one variant."""

from __future__ import annotations

import difflib
import json
from typing import Any

from rlsight.analysis.inputs import RunInfo
from rlsight.config import all_keys
from rlsight.errors import RlsightError

SEED_KEY = "train.seed"
MAX_LABEL_KEYS = 3


def differing_keys(configs: list[dict[str, Any]], exclude: tuple[str, ...] = ()) -> list[str]:
    """Dotted keys whose values are not the same in every config, in config order."""
    if len(configs) < 2:
        return []
    keys: list[str] = []
    for k in configs[0]:
        if k in exclude:
            continue
        first = _canon(configs[0].get(k))
        if any(_canon(c.get(k)) != first for c in configs[1:]):
            keys.append(k)
    extra = sorted({k for c in configs for k in c} - set(configs[0]) - set(exclude))
    return keys + extra


def parse_group_by(group_by: str | list[str] | tuple[str, ...] | None) -> list[str] | str:
    """'auto' (seeds pooled), 'none' (one group per run) or a list of config keys."""
    if group_by is None or group_by == "auto":
        return "auto"
    if group_by in ("none", "run"):
        return "none"
    keys = [k.strip() for k in (group_by.split(",") if isinstance(group_by, str) else group_by) if k.strip()]
    if not keys:
        raise RlsightError("--group-by: give config keys such as model.encoder, or 'auto' or 'none'")
    known = all_keys()
    for k in keys:
        if k not in known:
            close = difflib.get_close_matches(k, known, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else "; 'rlsight config' lists the keys"
            raise RlsightError(f"--group-by: unknown config key '{k}'{hint}")
    return keys


def assign_groups(runs: list[RunInfo], group_by: str | list[str] | None = None) -> None:
    """Set ``run.group`` for every run (labels are unique and human-readable)."""
    mode = parse_group_by(group_by)
    if mode == "none":
        for r in runs:
            r.group = r.label
        return
    keys = [k for k in runs[0].config if k != SEED_KEY] if mode == "auto" else list(mode)
    order: dict[str, list[RunInfo]] = {}
    for r in runs:
        sig = json.dumps([_canon(r.config.get(k)) for k in keys])
        order.setdefault(sig, []).append(r)
    members = list(order.values())
    if mode == "auto":
        shown = differing_keys([m[0].config for m in members], exclude=(SEED_KEY,))
    else:
        shown = list(mode)
    for group in members:
        if mode == "auto" and (len(group) == 1 or not shown):
            label = group[0].label if len(group) == 1 else "all runs"
        else:
            label = _describe(group[0].config, shown)
        for r in group:
            r.group = label
    _make_unique(members)


def _describe(config: dict[str, Any], keys: list[str]) -> str:
    parts = [f"{k}={format_value(config.get(k))}" for k in keys[:MAX_LABEL_KEYS]]
    if len(keys) > MAX_LABEL_KEYS:
        parts.append(f"+{len(keys) - MAX_LABEL_KEYS} more")
    return ", ".join(parts)


def _make_unique(members: list[list[RunInfo]]) -> None:
    seen: dict[str, int] = {}
    for group in members:
        label = group[0].group
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            for r in group:
                r.group = f"{label} #{seen[label]}"


def format_value(v: Any) -> str:
    """A config value as it would read in config.toml."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    return str(v)


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True)
