"""Render the summary table as terminal text, Markdown or CSV."""

from __future__ import annotations

import math

import pandas as pd

from rlsight.errors import RlsightError

HEADERS = {
    "train_return": "train return", "test_return": "test return", "gap": "gap (train-test)",
    "test_norm_return": "normalised test", "train_reward_rate": "train reward rate",
    "test_reward_rate": "test reward rate", "steps": "steps", "wall_time": "wall time", "sps": "SPS",
}
FORMATS = ("terminal", "md", "csv")


def number(v: float) -> str:
    """Three significant digits, no exponent for ordinary magnitudes."""
    if v is None or not math.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{digits}f}" if abs(v) < 1e6 else f"{v:,.0f}"


def steps(v: float) -> str:
    """A step count in short form (e.g. 25M); a dash when not finite."""
    if not math.isfinite(v):
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.0f}"


def duration(seconds: float) -> str:
    """Seconds as 1h02m, 3m05s or 42s; a dash when not finite."""
    if not math.isfinite(seconds):
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def display_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The table with intervals folded in as ``mean [low, high]`` and readable units."""
    scores = table.attrs.get("scores", [])
    keys = table.attrs.get("keys", [])
    name = "group" if "group" in table.columns else "run"
    out = pd.DataFrame({name: table[name].astype(str), "runs": table["runs"].astype(int).astype(str),
                        "game": table["game"].astype(str)})
    for s in scores:
        out[HEADERS.get(s, s)] = [with_ci(r[s], r[f"{s}_lo"], r[f"{s}_hi"]) for _, r in table.iterrows()]
    out["steps"] = table["steps"].map(steps)
    out["wall time"] = table["wall_time"].map(duration)
    out["SPS"] = table["sps"].map(number)
    for k in keys:
        out[k] = table[k].fillna("").astype(str)
    return out


def with_ci(v: float, lo: float, hi: float) -> str:
    """``v [lo, hi]`` as the tables print it; '–' where ``v`` is missing, ``v`` alone without an interval."""
    if not math.isfinite(v):
        return "–"
    if math.isfinite(lo) and math.isfinite(hi):
        return f"{number(v)} [{number(lo)}, {number(hi)}]"
    return number(v)


def render(table: pd.DataFrame, fmt: str = "terminal") -> str:
    """The summary table as terminal text, Markdown (md) or CSV."""
    if fmt not in FORMATS:
        raise RlsightError(f"--table {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return table.to_csv(index=False)
    return render_display(display_frame(table), fmt)


def render_display(d: pd.DataFrame, fmt: str = "terminal") -> str:
    """A table of display strings as terminal text or Markdown (md)."""
    cols = list(d.columns)
    cells = [[str(v) for v in row] for row in d.itertuples(index=False)]
    if fmt == "md":
        esc = [[c.replace("|", "\\|") for c in row] for row in [cols, *cells]]
        lines = ["| " + " | ".join(esc[0]) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in esc[1:]]
        return "\n".join(lines) + "\n"
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"
