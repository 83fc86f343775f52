"""Reading a sweep back: the trial table, the best config, a plot of the
objective against each parameter. Nothing here starts a trial."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rlsight.sweep.spec import SweepError, SweepSpec
from rlsight.sweep.strategies import one_at_a_time
from rlsight.sweep.study import TrialRecord, open_spec, open_study, records


def load(sweep_dir: str | Path) -> tuple[SweepSpec, list[TrialRecord]]:
    """The spec and the trial records of a sweep directory."""
    spec = open_spec(sweep_dir)
    return spec, records(open_study(spec, Path(sweep_dir)))


def best_trial(spec: SweepSpec, recs: list[TrialRecord]) -> TrialRecord:
    """The completed trial with the best objective; for a finished one-at-a-time
    sweep, the trial of the final assignment (every stage's winner adopted)."""
    done = [r for r in recs if r.state == "COMPLETE" and r.value is not None]
    if not done:
        raise SweepError("no trial has completed yet; see `rlsight sweep status`")
    if spec.strategy == "one-at-a-time":
        stages = one_at_a_time(spec, recs)
        if len(stages) == len(spec.order) and stages[-1].done:
            final = {**stages[-1].candidates[0], stages[-1].param: stages[-1].winner}
            for c, r in zip(stages[-1].candidates, stages[-1].results):
                if c == final and r is not None and r.state == "COMPLETE":
                    return r
    return (max if spec.direction == "maximize" else min)(done, key=_value)


def _value(r: TrialRecord) -> float:
    assert r.value is not None  # callers pass completed trials only
    return r.value


def best_config(sweep_dir: str | Path):
    """The base config with the best trial's parameters (seed: the sweep's first)."""
    spec, recs = load(sweep_dir)
    best = best_trial(spec, recs)
    return spec.trial_config(best.params, spec.seeds[0]), best


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def status_rows(sweep_dir: str | Path) -> tuple[SweepSpec, list[dict[str, str]]]:
    """One row of strings per trial: number, state, objective, parameters, run directory, note."""
    spec, recs = load(sweep_dir)
    d = Path(sweep_dir)
    continued = {r.retry_of: r.number for r in recs if r.retry_of is not None}
    rows = []
    for r in recs:
        state = "INTERRUPTED" if r.interrupted else r.state
        if state == "RUNNING" and not r.log:
            state = "QUEUED"  # created with its batch, waiting for a worker
        note = r.error
        if r.number in continued:
            note = f"continued as trial {continued[r.number]}"
        elif r.state == "PRUNED":
            note = f"stopped at step {r.last_step}"
        elif r.state in ("RUNNING", "WAITING") or (r.state == "FAIL" and r.log and r.log not in note):
            note = (note + " " if note else "") + f"log: {r.log}" if r.log else note
        value = "" if r.value is None else _fmt(r.value)
        run = str(d / r.run_dirs[0]) if len(r.run_dirs) == 1 else (str(d / Path(r.run_dirs[0]).parent) if r.run_dirs else "")
        rows.append({"trial": str(r.number), "state": state, "objective": value,
                     **{k: _fmt(r.params.get(k, "")) for k in spec.params}, "run": run, "note": note})
    return spec, rows


def format_status(sweep_dir: str | Path) -> str:
    """The sweep's status as text: a header line and a table of trials."""
    spec, rows = status_rows(sweep_dir)
    lines = [f"sweep {spec.name}: {spec.strategy}, objective {'evaluation' if spec.objective.evaluate else spec.objective.metric} "
             f"({spec.direction}), seeds {spec.seeds}"]
    if not rows:
        return lines[0] + "\nno trials yet"
    cols = list(rows[0])
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols if c != "note"}
    lines.append("  ".join(c.ljust(width[c]) for c in cols if c != "note") + "  note")
    for r in rows:
        lines.append("  ".join(r[c].ljust(width[c]) for c in cols if c != "note") + ("  " + r["note"] if r["note"] else ""))
    if spec.strategy == "one-at-a-time":
        _, recs = load(sweep_dir)
        for st in one_at_a_time(spec, recs):
            lines.append(f"stage {st.param}: " + (f"winner {_fmt(st.winner)}" if st.done else "running"))
    done = [r for r in rows if r["state"] == "COMPLETE"]
    if done:
        cfg_best = best_trial(spec, load(sweep_dir)[1])
        lines.append(f"best: trial {cfg_best.number}, objective {_fmt(cfg_best.value)}")
    return "\n".join(lines)


TICK_CHARS = 24  # categorical tick labels longer than this in all are drawn upright


def plot(sweep_dir: str | Path, out: str | Path) -> Path:
    """Objective against each parameter (one panel each); pruned trials at their last reported value."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlsight.runs.atomic import atomic_write_bytes

    spec, recs = load(sweep_dir)
    fig = figure(spec, recs)
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(out).suffix.lstrip(".") or "png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(Path(out), buf.getvalue())
    return Path(out)


def figure(spec: SweepSpec, recs: list[TrialRecord]):
    """The figure ``plot`` saves: one panel a parameter; a matplotlib Figure."""
    import matplotlib.pyplot as plt

    shown = [r for r in recs if r.state in ("COMPLETE", "PRUNED") and r.value is not None and not math.isnan(r.value)]
    if not shown:
        raise SweepError("nothing to plot: no trial has completed yet")
    names = list(spec.params)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        p = spec.params[name]
        categorical = p.type == "choice" and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p.values)
        labels = [str(v) for v in p.values] if categorical else []
        for state, style in (("COMPLETE", dict(marker="o", color="C0", label="complete")),
                             ("PRUNED", dict(marker="x", color="0.5", label="pruned (last value)"))):
            pts = [r for r in shown if r.state == state and name in r.params]
            if pts:
                xs = [labels.index(str(r.params[name])) if categorical else r.params[name] for r in pts]
                ax.scatter(xs, [r.value for r in pts], **style)
        if categorical:
            ax.set_xticks(range(len(labels)), labels)
            if sum(len(t) for t in labels) > TICK_CHARS:  # many long values (games) side by side overlap
                ax.tick_params(axis="x", labelrotation=90, labelsize=8)
        if p.type == "log-uniform" or (p.type == "choice" and not categorical and all(v > 0 for v in p.values)
                                       and max(p.values) / min(p.values) >= 100):
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("objective")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"sweep {spec.name} ({spec.strategy})")
    fig.tight_layout()
    return fig
