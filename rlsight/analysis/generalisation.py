"""The generalisation table: each run's (or group's) return on its training levels, its
held-out levels and every shifted setting it was evaluated in (``rlsight evaluate --suite
generalisation``, ``--set env.distribution_mode=hard``, ``--levels``), with 95% intervals
and the gaps between them. Read from the evaluation results stored in RUN/eval/*.json.

Intervals: for one run, the normal interval over its episodes (mean ± 1.96 s.e.; a gap's
s.e. is the root of the two squared s.e.s, the settings' episodes being independent);
for a group of runs, the percentile bootstrap over runs (of the per-run means, and of
the per-run gaps, paired by run).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from rlsight.analysis import stats
from rlsight.analysis.inputs import RunInfo
from rlsight.analysis.tables import FORMATS, render_display, with_ci
from rlsight.config import flavour_name
from rlsight.errors import RlsightError

Z95 = 1.959964
TRAIN, HELD_OUT = "train", "held-out"
COLUMNS = ["unit", "setting", "levels", "runs", "episodes", "return", "return_lo", "return_hi",
           "gap_train", "gap_train_lo", "gap_train_hi", "gap_held_out", "gap_held_out_lo", "gap_held_out_hi"]


def setting_of(result: dict) -> str:
    """The setting an evaluation result measured: train, held-out, or held-out (or levels
    START+COUNT) with its shift, e.g. ``held-out, distribution_mode=hard``."""
    shift = dict(result.get("shift") or {})
    levels = shift.pop("levels", None)
    split = result.get("split")
    base = TRAIN if split == "train" and not levels else HELD_OUT if split == "test" else \
        f"levels {levels[0]}+{levels[1]}" if levels else str(split)
    rest = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in shift.items())
    return f"{base}, {rest}" if rest else base


def latest_results(evals: Iterable[dict], greedy: bool = False) -> dict[str, dict]:
    """Per setting, the evaluations of the newest model step pooled into one result (see
    ``pool``): for each evaluation seed the one with the most episodes, so that results
    of ``rlsight evaluate --seed 0``, ``--seed 1``, ... count together. Sampled actions
    unless ``greedy``; ``--random`` results (no model) are left out."""
    newest: dict[str, list[dict]] = {}
    for e in evals:
        if bool(e.get("greedy")) != greedy or e.get("policy") == "random" \
                or not isinstance(e.get("mean_return"), (int, float)):
            continue
        s = setting_of(e)
        step = e.get("step") or 0
        if s not in newest or step > (newest[s][0].get("step") or 0):
            newest[s] = [e]
        elif step == (newest[s][0].get("step") or 0):
            newest[s].append(e)
    out = {}
    for s, results in newest.items():
        by_seed: dict = {}
        for e in results:
            seed = e.get("seed")
            if seed not in by_seed or (e.get("episodes") or 0) > (by_seed[seed].get("episodes") or 0):
                by_seed[seed] = e
        out[s] = pool(list(by_seed.values()))
    return out


def pool(results: list[dict]) -> dict:
    """Evaluations of the same model and setting with different seeds as one result over
    all their episodes: the mean weighted by episodes, the s.e. from the pooled sample's
    variance (each result's within variance, s.e.² × n, plus the spread of the means),
    ``seeds`` listing what was pooled. Where that cannot be done (one result, or one that
    does not say its episodes, or its s.e. over more than one), the result with the most
    episodes is returned as it is."""
    n = np.array([int(r.get("episodes") or 0) for r in results], dtype=float)
    se = np.array([_se(r) for r in results])
    if len(results) == 1 or (n < 1).any() or not np.isfinite(se[n > 1]).all():
        return max(results, key=lambda r: int(r.get("episodes") or 0))
    m = np.array([float(r["mean_return"]) for r in results])
    total = float(n.sum())
    mean = float((n * m).sum() / total)
    within = np.where(n > 1, (n - 1) * se**2 * n, 0.0)  # (n - 1) s², s² = s.e.² n
    var = (float(within.sum()) + float((n * (m - mean) ** 2).sum())) / (total - 1)
    out = dict(results[0], mean_return=mean, stderr=math.sqrt(var / total), episodes=int(total),
               seeds=[r.get("seed") for r in results])
    norms = [r.get("normalized_return") for r in results]
    out["normalized_return"] = float((n * np.array(norms, dtype=float)).sum() / total) \
        if all(isinstance(v, (int, float)) for v in norms) else None
    for key, f in (("min_return", min), ("max_return", max)):
        vals = [r[key] for r in results if isinstance(r.get(key), (int, float))]
        out[key] = f(vals) if len(vals) == len(results) else None
    return out


def _order(settings: Iterable[str]) -> list[str]:
    """train, held-out, then the shifted settings in name order."""
    found = set(settings)
    return [s for s in (TRAIN, HELD_OUT) if s in found] + sorted(found - {TRAIN, HELD_OUT})


def _se(r: dict) -> float:
    v = r.get("stderr")
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.nan


def _same_model(r: dict, ref: dict | None) -> bool:
    """Whether two settings' results were played by the same model step: a gap between
    checkpoints would mix what training changed with what the setting changes."""
    return ref is not None and (ref.get("step") or 0) == (r.get("step") or 0)


def _one_run(r: dict, ref: dict | None) -> tuple[float, float, float]:
    """A gap ``ref - r`` with its normal 95% interval, for one run; none between results
    of different model steps."""
    if ref is None or not _same_model(r, ref):
        return math.nan, math.nan, math.nan
    gap = float(ref["mean_return"]) - float(r["mean_return"])
    half = Z95 * math.sqrt(_se(ref) ** 2 + _se(r) ** 2)
    return gap, gap - half, gap + half


def _has_gap(setting: str, ref: str) -> bool:
    """Gaps run downhill: to train from every other setting, to held-out from the shifted ones."""
    return setting != ref and not (ref == HELD_OUT and setting == TRAIN)


def _levels(r: dict) -> str:
    """``500+100000``: the first level and how many (∞: unbounded); an Atari result's
    flavour (``m0d1``: game mode 0, difficulty 1); "" when not recorded."""
    start, count = r.get("start_level"), r.get("num_levels")
    if start is None and ("game_mode" in r or "protocol" in r):  # Atari; older results lack the flavour: 0, 0
        return flavour_name(r.get("game_mode", 0), r.get("difficulty", 0))
    return "" if start is None else f"{start}+{count if count else '∞'}"


def generalisation_table(runs: list[RunInfo], per_run: bool = False, reps: int = stats.DEFAULT_REPS) -> pd.DataFrame:
    """One row per group (or run) and setting evaluated; empty when no run has evaluations.
    Columns: ``COLUMNS`` (return and gaps with ``_lo``/``_hi`` 95% bounds; ``gap_train`` =
    train return - this return, ``gap_held_out`` = held-out return - this return)."""
    units: dict[str, list[dict[str, dict]]] = {}
    for r in runs:
        results = latest_results(r.run.evals()) if r.run is not None else {}
        if results:
            units.setdefault(r.label if per_run else r.group, []).append(results)
    rows = []
    for unit, members in units.items():
        for setting in _order(s for m in members for s in m):
            have = [m for m in members if setting in m]
            row: dict = {"unit": unit, "setting": setting, "runs": len(have),
                         "levels": " | ".join(dict.fromkeys(_levels(m[setting]) for m in have)),
                         "episodes": int(sum(int(m[setting].get("episodes") or 0) for m in have))}
            if len(have) == 1:
                m = have[0]
                mean, half = float(m[setting]["mean_return"]), Z95 * _se(m[setting])
                row.update(**{"return": mean, "return_lo": mean - half, "return_hi": mean + half})
                for name, ref in (("gap_train", TRAIN), ("gap_held_out", HELD_OUT)):
                    g = _one_run(m[setting], m.get(ref)) if _has_gap(setting, ref) else (math.nan,) * 3
                    row.update({name: g[0], f"{name}_lo": g[1], f"{name}_hi": g[2]})
            else:
                means = np.array([float(m[setting]["mean_return"]) for m in have])
                point, lo, hi = stats.estimate(means, reps=reps)
                row.update(**{"return": float(point[0]), "return_lo": float(lo[0]), "return_hi": float(hi[0])})
                for name, ref in (("gap_train", TRAIN), ("gap_held_out", HELD_OUT)):
                    gaps = np.array([float(m[ref]["mean_return"]) - float(m[setting]["mean_return"])
                                     for m in have if ref in m and _has_gap(setting, ref)
                                     and _same_model(m[setting], m[ref])])
                    if len(gaps):
                        point, lo, hi = stats.estimate(gaps, reps=reps)
                        g = (float(point[0]), float(lo[0]), float(hi[0]))
                    else:
                        g = (math.nan,) * 3
                    row.update({name: g[0], f"{name}_lo": g[1], f"{name}_hi": g[2]})
            rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs["unit"] = "run" if per_run else "group"
    return table


def generalisation_display(table: pd.DataFrame) -> pd.DataFrame:
    """The table with intervals folded in as ``value [low, high]``, ready to print."""
    out = pd.DataFrame({
        table.attrs.get("unit", "group"): table["unit"].astype(str), "setting": table["setting"].astype(str),
        "levels": table["levels"].astype(str), "runs": table["runs"].astype(int).astype(str),
        "episodes": table["episodes"].astype(int).astype(str)})
    for col, head in (("return", "return"), ("gap_train", "gap to train"), ("gap_held_out", "gap to held-out")):
        out[head] = [with_ci(r[col], r[f"{col}_lo"], r[f"{col}_hi"]) for _, r in table.iterrows()]
    out.attrs = {}
    return out


NOTE = ("generalisation: per setting, the newest model step's stored evaluations (RUN/eval/*.json, "
        "sampled actions), pooled over evaluation seeds; "
        "95% intervals: over episodes (mean ± 1.96 s.e.) for one run, bootstrap over runs for a group; "
        "gap = train (or held-out) return minus this setting's return, of the same model step only")


def render_generalisation(table: pd.DataFrame, fmt: str = "terminal") -> str:
    """The generalisation table as terminal text, Markdown (md) or CSV (the raw numbers)."""
    if fmt not in FORMATS:
        raise RlsightError(f"--table {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return table.to_csv(index=False)
    return render_display(generalisation_display(table), fmt)
