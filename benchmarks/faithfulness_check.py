"""The faithfulness check's wall time on one IMPALA model: the full check and ``--quick``.

    python benchmarks/faithfulness_check.py                        # the original's best starpilot model
    python benchmarks/faithfulness_check.py --write BENCHMARKS.md

Full: 256 frames, every method, cascading randomisation per block, 20-step
deletion and insertion (the default of ``rlsight saliency-check``). Quick: 64
frames, top-block randomisation only. Both on the same imported checkpoint, with
the original's 500-level Nature-DQN model as the other model, after the state
dataset is recorded (timed on its own: it is recorded once per run). Per-method
seconds come from the check's progress messages, per-part seconds (maps, the other
model's maps, randomisation, stability, deletion/insertion) from the check itself.
Every time is also given as a ratio to a reference timed in the same run (a fixed
float32 matrix product, ``reference_seconds``), which makes figures from machines
or loads comparable. The load average is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from rlsight.bench import add_machine_argument, hardware, write_section

SHARED = Path(os.environ.get("RLSIGHT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
BEST = SHARED / "seed/experiments/5_500_lvls_impala_valclip/model_5_500_lvls_impala_valclip.pt"
OTHER = SHARED / "seed/experiments/2_500_lvls/model_2_500_lvls.pt"
TARGET_FULL, TARGET_QUICK = 15 * 60, 2 * 60


def reference_seconds(repeats: int = 3) -> float:
    """Best of ``repeats`` timings of 20 products of two 1024 x 1024 float32 matrices."""
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(1024, 1024, generator=g), torch.rand(1024, 1024, generator=g)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(20):
            a @ b
        best = min(best, time.perf_counter() - t0)
    return best


def timed_check(run: Path, other: Path | None, quick: bool, methods: list[str] | None) -> tuple[float, dict, dict]:
    """(seconds, per-method seconds, result) of one check."""
    from rlsight.bench import check_run

    marks: list[tuple[float, str]] = []

    def say(msg: str) -> None:
        marks.append((time.perf_counter(), msg))
        print(f"  {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    res = check_run(run, methods, other=other, quick=quick, say=say)
    total = time.perf_counter() - t0
    ends = [t for t, _ in marks[1:]] + [t0 + total]
    per = {m.split()[1]: e - t for (t, m), e in zip(marks, ends) if m.startswith("checking ")}
    return total, per, res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(BEST), help="IMPALA checkpoint of the original project")
    ap.add_argument("--other", default=str(OTHER), help="the other model's checkpoint ('' for none)")
    ap.add_argument("--methods", default=None, help="comma-separated methods (default: every one)")
    ap.add_argument("--skip-full", action="store_true", help="time --quick only")
    ap.add_argument("--skip-quick", action="store_true", help="time the full check only")
    ap.add_argument("--results", default=None, metavar="PATH", help="also write the full check's results (JSON; --skip-full: the quick one's)")
    ap.add_argument("--write", default=None, metavar="BENCHMARKS.md", help="write the section to this file")
    add_machine_argument(ap)
    args = ap.parse_args()

    import torch

    from rlsight.bench import import_checkpoint, load_or_record_states

    torch.set_num_threads(os.cpu_count() or 1)
    methods = args.methods.split(",") if args.methods else None
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        run = import_checkpoint(args.checkpoint, "starpilot", Path(tmp) / "best").path
        other = import_checkpoint(args.other, "starpilot", Path(tmp) / "other").path if args.other else None
        t = time.perf_counter()
        load_or_record_states(run)
        rec = time.perf_counter() - t
        print(f"state dataset recorded in {rec:.1f} s", flush=True)
        ref = reference_seconds()
        print(f"reference (20 matrix products 1024^2): {ref:.3f} s", flush=True)
        quick_s, quick_per, quick_res = (math_nan(), {}, None) if args.skip_quick else \
            timed_check(run, other, True, methods)
        print(f"quick: {quick_s:.1f} s ({quick_per})", flush=True)
        full_s, full_per, res = (math_nan(), {}, None) if args.skip_full else timed_check(run, other, False, methods)
        print(f"full: {full_s:.1f} s ({full_per})", flush=True)
        res = res if res is not None else quick_res
        if res is not None:
            from rlsight.bench import format_result, to_json

            print(format_result(res), flush=True)
            if args.results:
                Path(args.results).write_text(to_json(res) + "\n")
    ref = min(ref, reference_seconds())
    load_after = os.getloadavg()

    def parts(r: dict | None) -> str:
        return ", ".join(f"{k} {v:.0f}" for k, v in (r or {}).get("seconds_by_part", {}).items())
    rows = ["| check | seconds | / reference | target (s) | per part (s) | per method (s) |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| full (256 frames, cascade per block) | {'not run' if args.skip_full else f'{full_s:.0f}'} | "
            f"{'' if args.skip_full else f'{full_s / ref:.0f}'} | {TARGET_FULL} | "
            f"{'' if args.skip_full else parts(res)} | " + ", ".join(f"{m} {s:.0f}" for m, s in full_per.items())
            + " |",
            f"| quick (64 frames, top block) | {'not run' if args.skip_quick else f'{quick_s:.0f}'} | "
            f"{'' if args.skip_quick else f'{quick_s / ref:.0f}'} | {TARGET_QUICK} | "
            f"{parts(quick_res)} | " + ", ".join(f"{m} {s:.0f}" for m, s in quick_per.items()) + " |"]
    cmd = "python benchmarks/faithfulness_check.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    body = (f"`{cmd.strip()}` on {hardware()}, {time.strftime('%Y-%m-%d')}; load average "
            f"{load[0]:.1f} before, {load_after[0]:.1f} after (the machine was shared). The original's best "
            f"starpilot model (IMPALA), the other model its 500-level Nature-DQN; recording the state dataset "
            f"(4,096 frames, once per run) took {rec:.0f} s and is not counted. Reference: 20 products of two "
            f"1024 x 1024 float32 matrices, {ref:.3f} s (best of the timings before and after).\n\n"
            + "\n".join(rows))
    print(body)
    if args.write:
        write_section(Path(args.write), "faithfulness-check", "Saliency faithfulness check: wall time", body)
    return 0


def math_nan() -> float:
    return float("nan")


if __name__ == "__main__":
    sys.exit(main())
