"""Atari emulator stepping: games stepped one after another (as rlsight's vector env
steps them in training) against the same games stepped from a pool of threads, side by
side in one process.

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
from rlsight.envs import family_of, make_env


def steps_per_second(cfg: C.Config, envs: int, threads: int, steps: int) -> float:
    """Environment steps per second over ``steps`` steps of ``envs`` one-game vector envs,
    stepped one after another (``threads`` = 1) or from a pool (observations included)."""
    games = [make_env(cfg.env, "train", 1, seed=i) for i in range(envs)]
    count = family_of(cfg.env).action_count(cfg.env.game)  # the game's minimal action set
    actions = np.random.default_rng(0).integers(0, count, size=(steps, envs, 1))

    def step(env, action):
        env.act(action)
        return env.observe()

    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    t0 = time.perf_counter()
    for a in actions:
        if pool is None:
            for env, action in zip(games, a):
                step(env, action)
        else:
            list(pool.map(step, games, a))
    seconds = time.perf_counter() - t0
    if pool is not None:
        pool.shutdown()
    for env in games:
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
