"""Atari emulator stepping: rlsight's vector env one game after another (what training
runs) against the same games stepped from a pool of threads, side by side in one process.

    python benchmarks/atari_stepping.py                  # Pong, 8 envs, 1/2/4 threads
    python benchmarks/atari_stepping.py --game Breakout --envs 16 --threads 1,2

Random actions from the minimal action set, the training protocol (frame skip 4, 84x84
grey, 4-frame stack, no-op starts, episodic life). Each figure is the best of
``--repeats`` interleaved rounds. If ALE released the GIL while it emulates, the pool
would scale with the cores; the measurement says whether it does.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rlsight import config as C
from rlsight.bench import hardware
from rlsight.envs.atari.vecenv import _Game, make_atari


def steps_per_second(cfg: C.Config, envs: int, threads: int, steps: int) -> float:
    """Environment steps per second over ``steps`` vector steps (observations included)."""
    env = make_atari(cfg.env, "train", envs, seed=0)
    games = env._games  # the per-game objects: the pool steps them directly
    actions = np.random.default_rng(0).integers(0, len(games[0].actions), size=(steps, envs))
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    t0 = time.perf_counter()
    for a in actions:
        if pool is None:
            env.act(a)
        else:
            list(pool.map(_Game.step, games, a.tolist()))
        env.observe()
    seconds = time.perf_counter() - t0
    if pool is not None:
        pool.shutdown()
    env.close()
    return steps * envs / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--game", default="Pong")
    ap.add_argument("--envs", type=int, default=8)
    ap.add_argument("--threads", default="1,2,4", help="comma-separated thread counts; 1 = in turn")
    ap.add_argument("--steps", type=int, default=400, help="vector steps per measurement")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    cfg = C.load("atari-cleanrl", [f"env.game={args.game}"])
    counts = [int(t) for t in args.threads.split(",")]
    best = dict.fromkeys(counts, 0.0)
    for _ in range(args.repeats):
        for t in counts:
            best[t] = max(best[t], steps_per_second(cfg, args.envs, t, args.steps))
    print(f"{hardware('cpu')}; {args.game}, {args.envs} envs, {args.steps} steps, best of {args.repeats}")
    for t in counts:
        print(f"threads {t}: {best[t]:8.0f} env steps/s   ({best[t] / best[counts[0]]:.2f}x threads {counts[0]})")


if __name__ == "__main__":
    main()
