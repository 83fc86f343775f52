"""Faithfulness results as text (the ``rlsight saliency-check`` table) and table rows
(the HTML report): one place that decides what is shown."""

from __future__ import annotations

import math

from rlsight.explain.verdicts import CORRELATION_LIMIT

COLUMNS = ("method", "target", "randomisation corr. (nonzero px)", "deletion / random", "insertion / random",
           "edge: deletion / random", "other model: deletion / random", "stability (max-sens.)", "fps", "verdict")


def fmt_ci(ci) -> str:
    """"0.17 [0.16, 0.18]", or "n/a"."""
    if not isinstance(ci, dict):
        return "n/a"
    m, lo, hi = (ci.get(k) for k in ("mean", "low", "high"))
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "n/a"
    return f"{m:.3g} [{_g(lo)}, {_g(hi)}]"


def _g(v) -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"


def _ratio(part) -> str:
    return fmt_ci(part.get("ratio_to_random")) if isinstance(part, dict) else "n/a"


def rows(result: dict) -> list[list[str]]:
    """One row of strings per method x target, in ``COLUMNS`` order."""
    out = []
    for method, per_target in (result.get("results") or {}).items():
        for target, e in per_target.items():
            out.append([method, target, fmt_ci((e.get("randomisation") or {}).get("criterion")),
                        _ratio(e.get("deletion")), _ratio(e.get("insertion")), _ratio(e.get("edge")),
                        _ratio(e.get("other")), fmt_ci(e.get("stability")),
                        f"{e['fps']:.1f}" if isinstance(e.get("fps"), (int, float)) else "n/a",
                        str(e.get("label", e.get("verdict", "")))])
    return out


def header(result: dict) -> str:
    """One line: run, game, model, frames (and their shift), randomisation mode, other model."""
    s = result.get("settings", {})
    other = result.get("other")
    o = f"{other['run']} ({other.get('encoder', '?')})" if other else "n/a (no --other run)"
    shift = result.get("shift")
    under = f" under {', '.join(f'{k}={v}' for k, v in shift.items())}" if shift else ""
    return (f"{result.get('run')}: {result.get('game')}, {result.get('encoder')} at step {result.get('model_step')}; "
            f"{s.get('frames')} frames of its state dataset{under}, randomisation: {s.get('randomisation')}; "
            f"other model: {o}")


def _pct(result: dict) -> str:
    """The check's confidence level, "95%" (its settings'; 95% where older results lack it)."""
    conf = (result.get("settings") or {}).get("confidence") or 0.95
    return f"{100 * float(conf):g}%"


def format_result(result: dict) -> str:
    """The text table, then a verdict line per method (per target)."""
    rs = rows(result)
    table = [list(COLUMNS), *rs]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS) - 1)]
    lines = [header(result), "AUC ratios are to a random pixel order (lower deletion, higher insertion: better); "
             f"intervals are {_pct(result)} bootstrap CIs over frames."]
    for r in table:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)))
    lines.append(f"verdicts (a: randomisation corr. < {CORRELATION_LIMIT:g} on nonzero pixels; b: deletion AUC below the edge map's; "
                 "c: below the other model's map's; the AUCs' own CIs not overlapping, not the ratio columns', "
                 "which are resampled with the random order and can overlap where the AUCs' do not, or the reverse):")
    by_method: dict[str, list[str]] = {}
    for method, per_target in (result.get("results") or {}).items():
        for target, e in per_target.items():
            crit = e.get("criteria", {})
            marks = ", ".join(f"{k} {'yes' if v else 'n/a' if v is None else 'no'}" for k, v in crit.items())
            by_method.setdefault(method, []).append(f"{target} {e.get('label', e.get('verdict'))} ({marks})")
    for method, parts in by_method.items():
        lines.append(f"  {method}: " + "; ".join(parts))
    lines.extend(summary_lines(result))
    return "\n".join(lines)


def summary_lines(result: dict) -> list[str]:
    """Per target, the methods that meet every criterion, or a line saying that none does."""
    faithful: dict[str, list[str]] = {}
    for method, per_target in (result.get("results") or {}).items():
        for target, e in per_target.items():
            faithful.setdefault(target, [])
            if e.get("verdict") == "faithful":
                faithful[target].append(method)
    return [f"{target}: faithful: {', '.join(ms)}" if ms else
            f"{target}: no method checked here meets every criterion; its maps are not evidence of what drives "
            "this model's " + ("policy" if target == "actor" else "value")
            for target, ms in faithful.items()]

