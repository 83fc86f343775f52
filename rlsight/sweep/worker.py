"""Run one trial of a sweep in this process (what the local launcher starts).

    python -m rlsight.sweep.worker SWEEP_DIR NUMBER [--threads N]

Exit status: 0 complete or pruned, 1 failed, 130 interrupted (resumed by the
next ``rlsight sweep run``).
"""

from __future__ import annotations

import argparse
import sys

from rlsight.sweep.trial import EXIT_INTERRUPTED, run_trial


def main(argv: list[str] | None = None) -> int:
    """Run one trial of a sweep (the worker process's entry point); returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m rlsight.sweep.worker", description="Run one trial of a sweep.")
    ap.add_argument("sweep_dir")
    ap.add_argument("number", type=int)
    ap.add_argument("--threads", type=int, default=None, help="torch threads when the config says 0 (all cores)")
    a = ap.parse_args(argv)
    state = run_trial(a.sweep_dir, a.number, a.threads)
    return {"FAIL": 1, "INTERRUPTED": EXIT_INTERRUPTED}.get(state, 0)


if __name__ == "__main__":
    sys.exit(main())
