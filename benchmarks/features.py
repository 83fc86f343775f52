"""Time and peak memory of ``rlsight features`` on one run.

    python benchmarks/features.py RUN                  # 4,096 frames (the default state dataset)
    python benchmarks/features.py RUN --frames 1024 --attribution gxa
    python benchmarks/features.py RUN --in-place       # measure on RUN itself and keep what it stores

The run directory is copied to a temporary folder first (nothing in RUN is
written), unless ``--in-place``: then the state dataset (when RUN has none yet) and
the features are stored in RUN, for ``rlsight features RUN RUN_B`` and ``rlsight
ablate`` to reuse (RUN must hold no features yet: they would be reused, not measured). Two child processes, each measured on its own (``os.wait4``: wall time, CPU time, peak
resident memory):
1. recording the state dataset (``load_or_record_states``), which every explain
   command shares and does once per model;
2. ``rlsight features`` on the recorded frames (attribution, NMF, top examples, store).
Numbers are only comparable when the machine is otherwise idle (or a CPU lock is held).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECORD = "from rlsight.explain.states import load_or_record_states; import sys; load_or_record_states(sys.argv[1])"


def measure(cmd: list[str]) -> dict:
    """Run ``cmd`` as a child; its own wall and CPU seconds and peak RSS (MiB), from ``os.wait4``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with exit status {proc.returncode}")
    return {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    """Copy RUN, record its state dataset, time ``rlsight features`` on it; print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run directory (copied, not written)")
    ap.add_argument("--frames", type=int, help="frames of the state dataset to use (default all 4,096)")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--attribution", default="ig")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--in-place", action="store_true",
                    help="measure on RUN itself (not a copy) and keep the state dataset and features it stores")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rlsight-bench-features-") as tmp:
        if args.in_place:
            run = Path(args.run)
            if (run / "explain" / "features").exists():
                raise SystemExit(f"{run / 'explain' / 'features'} exists: stored features would be reused, "
                                 "not measured; move it away or drop --in-place")
        else:
            run = Path(tmp) / Path(args.run).name
            shutil.copytree(args.run, run, ignore=shutil.ignore_patterns("features", "features-compare", "ablations"))
        states_existed = (run / "explain" / "states.npz").exists()
        py = [sys.executable, "-c"]
        rec = measure([*py, RECORD, str(run)])
        feat_cmd = [sys.executable, "-m", "rlsight.cli.main", "features", str(run), "--k", str(args.k),
                    "--attribution", args.attribution, "--steps", str(args.steps)]
        if args.frames:
            feat_cmd += ["--frames", str(args.frames)]
        feat = measure(feat_cmd)
        meta = json.loads((run / "explain" / "features" / "features.json").read_text())["meta"]
    out = {"run": str(args.run), "frames": meta["frames"], "k": args.k, "attribution": args.attribution,
           "ig_steps": meta.get("ig_steps"), "in_place": args.in_place,
           "record_states": {**rec, "states_existed": states_existed}, "features": feat,
           "torch_threads": os.environ.get("OMP_NUM_THREADS"), "cpus": os.cpu_count()}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
