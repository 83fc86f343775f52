"""Does a run learn as the Procgen paper's PPO does? Its training-level return
curve against the paper's published runs of the same game (easy mode, 200
levels), over the first ``--steps`` environment steps.

    rlsight train --config procgen-paper --set train.total_steps=2000000 \\
        --set train.autocast=bf16 --run-dir runs/gpu-fast
    python benchmarks/curve_check.py runs/gpu-fast --steps 2000000 --write BENCHMARKS.md

Both curves are the mean return of the last 100 finished training episodes. The
verdict compares the curve's mean over (0, steps], which weighs the whole curve
and not one noisy point: the run passes when that mean lies within the
published runs' range widened by two of their standard deviations (the seed
noise the three runs show). The table gives the same means over bins of
``--bin`` steps for the reader. Exit status 1 when the run does not pass.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

from rlsight.bench import add_machine_argument, write_section
from rlsight.runs import RunDir

DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "openai-train-procgen-easy-200"
WIDEN = 2.0  # reference standard deviations added on each side of their range


def run_curve(run: RunDir) -> pd.DataFrame:
    """(step, value) of a run's training return."""
    rows = [(r["step"], r["train_return"]) for r in run.metrics()]
    return pd.DataFrame(rows, columns=["step", "value"]).dropna()


def reference_curves(folder: Path, game: str) -> list[pd.DataFrame]:
    """(step, value) of each published training curve for ``game``."""
    files = sorted(folder.glob(f"{game}-train-run*.csv"))
    if not files:
        raise SystemExit(f"{folder}: no {game}-train-run*.csv files (the Procgen paper's curves)")
    return [pd.read_csv(f).rename(columns={"total_timesteps": "step", "eprewmean": "value"})[["step", "value"]]
            for f in files]


def mean_over(curve: pd.DataFrame, lo: float, hi: float) -> float:
    sel = curve[(curve.step > lo) & (curve.step <= hi)].value
    return float(sel.mean()) if len(sel) else float("nan")


def verdict(run_mean: float, ref_means: list[float]) -> tuple[bool, float, float]:
    """(passes, low, high): the references' range widened by WIDEN standard deviations."""
    sd = statistics.stdev(ref_means) if len(ref_means) > 1 else 0.0
    low, high = min(ref_means) - WIDEN * sd, max(ref_means) + WIDEN * sd
    return low <= run_mean <= high, low, high


def check(run: RunDir, references: list[pd.DataFrame], steps: int, bin_steps: int) -> tuple[bool, list[str]]:
    """The verdict and a markdown report."""
    curve = run_curve(run)
    reached = int(curve.step.max()) if len(curve) else 0
    if reached < steps:
        raise SystemExit(f"{run.path}: trained to step {reached}, fewer than --steps {steps}")
    ref_means = [mean_over(r, 0, steps) for r in references]
    run_mean = mean_over(curve, 0, steps)
    ok, low, high = verdict(run_mean, ref_means)
    cfg = run.config()
    lines = [
        f"Run `{run.path.name}`: {cfg.env.game}, {cfg.model.encoder}, device {cfg.train.device}, "
        f"autocast {cfg.train.autocast}, compile {cfg.train.compile}; "
        f"{len(references)} published runs of the Procgen paper.",
        "",
        "| steps | this run | published runs |",
        "| --- | --- | --- |",
    ]
    for lo in range(0, steps, bin_steps):
        hi = min(lo + bin_steps, steps)
        refs = ", ".join(f"{mean_over(r, lo, hi):.2f}" for r in references)
        lines.append(f"| {lo / 1e6:.2f}M-{hi / 1e6:.2f}M | {mean_over(curve, lo, hi):.2f} | {refs} |")
    lines += [
        f"| **mean over 0-{steps / 1e6:.2f}M** | **{run_mean:.2f}** | "
        f"{', '.join(f'{m:.2f}' for m in ref_means)} |",
        "",
        f"Accepted range (published range ± {WIDEN:g} standard deviations): {low:.2f} to {high:.2f}: "
        f"**{'within seed noise' if ok else 'OUTSIDE seed noise'}**.",
    ]
    return ok, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a run directory (rlsight train --run-dir)")
    ap.add_argument("--steps", type=int, default=2_000_000, help="compare the first this many steps")
    ap.add_argument("--bin", type=int, default=500_000, help="steps per row of the table")
    ap.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                    help="folder with the Procgen paper's GAME-train-runK.csv curves")
    ap.add_argument("--write", metavar="BENCHMARKS.md", help="write the report into this file's curve_check section")
    ap.add_argument("--trained-with", default="", metavar="TEXT",
                    help="how the run was trained (command, machine), for the written report")
    add_machine_argument(ap)
    args = ap.parse_args()
    run = RunDir.open(args.run)
    ok, lines = check(run, reference_curves(args.reference, run.config().env.game), args.steps, args.bin)
    print("\n".join(lines))
    if args.write:
        head = [f"Checked {time.strftime('%Y-%m-%d')}; command: `python benchmarks/curve_check.py {args.run} "
                f"--steps {args.steps} --bin {args.bin} --write {args.write}"
                + (f" --machine {shlex.quote(args.machine)}" if args.machine else "") + "`."]
        if args.trained_with:
            head.append(f"Trained with: {args.trained_with}.")
        body = "\n".join([*head, "", *lines])
        write_section(Path(args.write), "curve_check", "Learning-curve check (benchmarks/curve_check.py)", body,
                      device=run.config().train.device, machine=args.machine)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
