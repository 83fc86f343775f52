"""Stored faithfulness results of a run (``RUN/explain/faithfulness.json``; a check under
a distribution shift in ``faithfulness-<shift>.json`` beside it) for readers: captions of
saliency pictures, the HTML report. Light: no torch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rlsight.errors import RlsightError
from rlsight.explain.saliency.options import drawn_options
from rlsight.runs import RunDir
from rlsight.shift import setting_label

RESULT_FILE = "faithfulness.json"
RESULT_FORMAT = 1
# How maps are made, stored with each check: 2 since gradient maps of stacked frames (Atari) keep
# the attribution to one frame of the stack (before: the maximum over the stack)
MAPS_VERSION = 2
_PER_INPUT_GRADIENTS = ("gradient", "smoothgrad", "integrated-gradients")
CORRELATION_LIMIT = 0.5  # criterion (a)
CRITERIA = {
    "a": f"randomisation rank correlation over pixels where either map is nonzero below {CORRELATION_LIMIT}",
    "b": "deletion AUC below the edge map's, confidence intervals not overlapping",
    "c": "deletion AUC below the other model's map's, confidence intervals not overlapping",
}


def result_path(run: RunDir, shift: dict | None = None) -> Path:
    """Where a run keeps its faithfulness results (those of a check under ``shift``,
    ``{"game_mode": 1}``, apart)."""
    name = f"faithfulness-{setting_label(shift)}.json" if shift else RESULT_FILE
    return run.path / "explain" / name


def load_results(run: str | Path | RunDir, shift: dict | None = None) -> dict | None:
    """The stored results of a run (checked under ``shift``), or None; a damaged file is a
    one-line error."""
    rd = run if isinstance(run, RunDir) else RunDir(Path(run))
    p = result_path(rd, shift)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise RlsightError(f"{p}: not readable faithfulness results ({e})") from None


@dataclass(frozen=True)
class Drawn:
    """What a picture's maps were drawn with: the model's step and the method options
    (``MethodOptions`` as a dict). A stored verdict holds for a picture only where the
    check scored the same model with the same settings of that method."""

    model_step: int
    options: dict


def stored_verdicts(run: str | Path | RunDir, method: str, shift: dict | None = None,
                    drawn: Drawn | None = None) -> dict[str, str]:
    """{target: verdict label} stored for ``method`` in the run (checked under ``shift``);
    empty when unchecked. With ``drawn``, a verdict of another model step or other settings
    of the method says so ("unchecked at step 2,048 (faithful at step 1,024)")."""
    try:
        res = load_results(run, shift)
    except RlsightError:
        return {}
    per_target = ((res or {}).get("results") or {}).get(method) or {}
    return {t: _short(e, method, drawn) for t, e in per_target.items() if isinstance(e, dict)}


def _short(entry: dict, method: str, drawn: Drawn | None = None) -> str:
    """"weak", or "faithful (on a, b)" when not every criterion was checked; with ``drawn``,
    "unchecked ..." where the check was of another model step or other settings."""
    word, checked = str(entry.get("verdict", "?")), entry.get("checked") or []
    word = word if len(checked) == len(CRITERIA) else f"{word} (on {', '.join(checked)})"
    check = entry.get("check") or {}
    if drawn is None:
        return word
    step = check.get("model_step")
    if isinstance(step, int) and step != drawn.model_step:
        return f"unchecked at step {drawn.model_step:,} ({word} at step {step:,})"
    settings = check.get("settings") or {}
    if drawn.options.get("stack_frame") is not None and method.removesuffix("-logp") in _PER_INPUT_GRADIENTS \
            and (settings.get("maps") or 1) < MAPS_VERSION:
        return f"unchecked with these maps ({word} for maps over the whole stack)"
    stored = settings.get("method_options")
    if isinstance(stored, dict):
        other = {k: stored.get(k) for k in drawn_options(method, drawn.options) if stored.get(k) != drawn.options.get(k)}
        if other:
            return f"unchecked with these settings ({word} with {', '.join(f'{k} {v}' for k, v in other.items())})"
    return word


def caption(method: str, verdicts: dict[str, str]) -> str:
    """"perturbation, check: actor weak, critic fails" or "perturbation, unchecked"."""
    if not verdicts:
        return f"{method}, unchecked"
    return f"{method}, check: " + ", ".join(f"{t} {v}" for t, v in verdicts.items())


def targets_caption(by_target: dict[str, str], run: str | Path | RunDir, shift: dict | None = None,
                    drawn: Drawn | None = None) -> str:
    """The caption of a picture whose maps come from ``by_target`` ({target: method}):
    one method, as ``caption``; one per target, each with its own stored verdict,
    "actor perturbation-sarfa faithful; critic integrated-gradients unchecked". For maps
    drawn under a distribution shift the verdicts of a check under the same shift are
    used ("check under the shift: ..."); without one, those of the run's own setting,
    said to be so ("check without the shift: ...")."""
    if shift:
        under = {m: stored_verdicts(run, m, shift, drawn) for m in by_target.values()}
        if any(under.values()):
            return _caption(by_target, under, "under")
    stored = {m: stored_verdicts(run, m, None, drawn) for m in by_target.values()}  # one read per method
    return _caption(by_target, stored, "without" if shift and any(stored.values()) else "")


def _caption(by_target: dict[str, str], stored: dict[str, dict[str, str]], shift_word: str) -> str:
    """``caption`` (one method) or the per-target form; ``shift_word`` ("under", "without")
    says whether the verdicts were checked under the picture's shift."""
    if len(stored) == 1:  # the verdicts of the targets drawn, "unchecked" where a drawn one has none
        (name, verdicts), = stored.items()
        text = caption(name, {t: verdicts.get(t, "unchecked") for t in by_target} if verdicts else {})
        return text.replace(", check: ", f", check {shift_word} the shift: ", 1) if shift_word else text
    text = "; ".join(f"{t} {m} {stored[m].get(t, 'unchecked')}" for t, m in by_target.items())
    return f"{text} (verdicts checked {shift_word} the shift)" if shift_word else text
