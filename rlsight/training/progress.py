"""Console progress and the live progress plot of a training run."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from tqdm import tqdm

from rlsight.runs.atomic import atomic_write


def rollout_share(rows: list[dict]) -> float:
    """Share of the timed updates' seconds spent collecting rollouts (the rest is
    learning), over the rows that timed both; NaN when none did."""
    timed = [r for r in rows if not (math.isnan(r["rollout_time"]) or math.isnan(r["learn_time"]))]
    roll, learn = sum(r["rollout_time"] for r in timed), sum(r["learn_time"] for r in timed)
    return roll / (roll + learn) if roll + learn > 0 else float("nan")


class ProgressBar:
    """Steps, SPS, train and test return, ETA; quiet when ``enabled`` is False."""

    def __init__(self, total: int, initial: int, enabled: bool = True):
        self.bar = tqdm(
            total=total, initial=initial, unit="step", unit_scale=True, dynamic_ncols=True,
            disable=not enabled, file=sys.stderr, mininterval=1.0,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}",
        )

    def update(self, steps: int, row: dict) -> None:
        """Advance the bar by ``steps`` and show SPS and returns from ``row``."""
        def f(v):
            return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"

        self.bar.set_postfix_str(f"sps={row['sps']:.0f} train={f(row['train_return'])} test={f(row['test_return'])}", refresh=False)
        self.bar.update(steps)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()


def plot_progress(path: Path, rows: list[dict], title: str, compare: list[dict] | None = None, compare_name: str = "") -> None:
    """Episodic return and the original project's reward rate against steps, with an optional
    comparison run drawn dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    panels = [("train_return", "test_return", "episodic return (last 100 episodes)"),
              ("train_reward_rate", "test_reward_rate", "reward per 256 steps (seed metric)")]
    for ax, (tr, te, label) in zip(axes, panels):
        for data, style, prefix in ((rows, "-", ""), (compare or [], "--", f"{compare_name} ")):
            if not data:
                continue
            x = [r["step"] for r in data]
            for key, color in ((tr, "tab:blue"), (te, "tab:orange")):
                y = [r.get(key, float("nan")) for r in data]
                if any(not math.isnan(v) for v in y):
                    ax.plot(x, y, style, color=color, label=f"{prefix}{key.split('_')[0]}")
        ax.set_xlabel("environment steps")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=90))
    plt.close(fig)
