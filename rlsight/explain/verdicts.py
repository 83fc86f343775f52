"""Stored faithfulness results of a run (``RUN/explain/faithfulness.json``) for readers:
captions of saliency pictures, the HTML report. Light: no torch."""

from __future__ import annotations

import json
from pathlib import Path

from rlsight.errors import RlsightError
from rlsight.runs import RunDir

RESULT_FILE = "faithfulness.json"
RESULT_FORMAT = 1
CORRELATION_LIMIT = 0.5  # criterion (a)
CRITERIA = {
    "a": f"randomisation rank correlation over pixels where either map is nonzero below {CORRELATION_LIMIT}",
    "b": "deletion AUC below the edge map's, confidence intervals not overlapping",
    "c": "deletion AUC below the other model's map's, confidence intervals not overlapping",
}


def result_path(run: RunDir) -> Path:
    """Where a run keeps its faithfulness results."""
    return run.path / "explain" / RESULT_FILE


def load_results(run: str | Path | RunDir) -> dict | None:
    """The stored results of a run, or None; a damaged file is a one-line error."""
    rd = run if isinstance(run, RunDir) else RunDir(Path(run))
    p = result_path(rd)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise RlsightError(f"{p}: not readable faithfulness results ({e})") from None


def stored_verdicts(run: str | Path | RunDir, method: str) -> dict[str, str]:
    """{target: verdict label} stored for ``method`` in the run; empty when unchecked."""
    try:
        res = load_results(run)
    except RlsightError:
        return {}
    per_target = ((res or {}).get("results") or {}).get(method) or {}
    return {t: _short(e) for t, e in per_target.items() if isinstance(e, dict)}


def _short(entry: dict) -> str:
    """"weak", or "faithful (on a, b)" when not every criterion was checked."""
    word, checked = str(entry.get("verdict", "?")), entry.get("checked") or []
    return word if len(checked) == len(CRITERIA) else f"{word} (on {', '.join(checked)})"


def caption(method: str, verdicts: dict[str, str]) -> str:
    """"perturbation, check: actor weak, critic fails" or "perturbation, unchecked"."""
    if not verdicts:
        return f"{method}, unchecked"
    return f"{method}, check: " + ", ".join(f"{t} {v}" for t, v in verdicts.items())


def targets_caption(by_target: dict[str, str], run: str | Path | RunDir, shifted: bool = False) -> str:
    """The caption of a picture whose maps come from ``by_target`` ({target: method}):
    one method, as ``caption``; one per target, each with its own stored verdict,
    "actor perturbation-sarfa faithful; critic integrated-gradients unchecked". For maps
    drawn under a distribution shift (``shifted``) a stored verdict is said to come from
    the run's own setting, where the check's states were recorded."""
    stored = {m: stored_verdicts(run, m) for m in by_target.values()}  # one read per method
    if len(stored) == 1:
        (name, verdicts), = stored.items()
        text = caption(name, verdicts)
        return text.replace(", check: ", ", check without the shift: ", 1) if shifted else text
    text = "; ".join(f"{t} {m} {stored[m].get(t, 'unchecked')}" for t, m in by_target.items())
    return f"{text} (verdicts checked without the shift)" if shifted and any(stored.values()) else text
