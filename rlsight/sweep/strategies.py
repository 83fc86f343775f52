"""What to run next. Each strategy looks at the finished trials and returns the
next batch of parameter assignments (``None`` values: let the sampler choose),
or an empty list when the sweep is done. Re-running after an interruption asks
again, so finished trials are never redone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlsight.sweep.spec import SweepSpec
from rlsight.sweep.study import TrialRecord, key, settled_records


@dataclass
class Stage:
    """One stage of one-at-a-time: a parameter, its candidates and the winner."""

    param: str
    candidates: list[dict[str, Any]]
    results: list[TrialRecord | None]
    winner: Any = None

    @property
    def done(self) -> bool:
        """Whether every candidate of the stage has a settled trial."""
        return all(r is not None for r in self.results)


def _settled_by_key(records: list[TrialRecord]) -> dict[str, TrialRecord]:
    out: dict[str, TrialRecord] = {}
    for r in settled_records(records):
        k = key(r.params)
        best = out.get(k)
        if best is None or (best.state != "COMPLETE" and r.state == "COMPLETE"):
            out[k] = r
    return out


def better(a: float, b: float, direction: str) -> bool:
    """Whether ``a`` is better than ``b`` in ``direction``."""
    return a > b if direction == "maximize" else a < b


def one_at_a_time(spec: SweepSpec, records: list[TrialRecord]) -> list[Stage]:
    """The stages so far: all finished ones and the first unfinished one. A stage
    varies one parameter with the others at the current best; its winner (the best
    finished trial; the current value when every trial of the stage failed) is
    adopted before the next parameter."""
    by_key = _settled_by_key(records)
    current = spec.start_values()
    stages = []
    for name in spec.order:
        cands = []
        for v in spec.params[name].grid_values():
            c = {**current, name: v}
            if c not in cands:
                cands.append(c)
        stage = Stage(name, cands, [by_key.get(key(c)) for c in cands])
        stages.append(stage)
        if not stage.done:
            break
        best = None
        for c, r in zip(cands, stage.results):
            assert r is not None  # the stage is done: every candidate has a result
            if r.state == "COMPLETE" and r.value is not None and (best is None or better(r.value, best[1], spec.direction)):
                best = (c[name], r.value)
        stage.winner = best[0] if best else current[name]
        current[name] = stage.winner
    return stages


def next_batch(spec: SweepSpec, records: list[TrialRecord], parallel: int) -> list[dict[str, Any] | None]:
    """Parameter assignments to run next; ``None`` asks the sampler (random, tpe)."""
    if spec.strategy == "grid":
        done = _settled_by_key(records)
        return [g for g in spec.grid() if key(g) not in done]
    if spec.strategy == "one-at-a-time":
        stage = one_at_a_time(spec, records)[-1]
        return [c for c, r in zip(stage.candidates, stage.results) if r is None]
    remaining = spec.trials - len(settled_records(records))
    if remaining <= 0:
        return []
    # random draws are independent: queue them all; TPE learns from each batch.
    return [None] * (remaining if spec.strategy == "random" else min(remaining, parallel))


def distributions(spec: SweepSpec) -> dict[str, Any]:
    """Optuna distributions of the parameters (one-at-a-time's include each start value)."""
    start = spec.start_values() if spec.strategy == "one-at-a-time" else {}
    return {n: p.distribution(start.get(n)) for n, p in spec.params.items()}
