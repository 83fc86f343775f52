"""Raw stepping speed of the Procgen backends, and whether two backends give the same frames.

Steps ``--envs`` environments of one game with uniformly random actions for
``--seconds`` on ``--threads`` threads and prints environment steps per second,
for each backend importable in this Python: procgen-mirror's gym3 interface (the
one rlsight uses; numpy<2, CPython 3.11/3.12), EnvPool's Procgen (numpy 2,
CPython 3.12+ for envpool 1.2.7) and procgen-gym (numpy 2, CPython 3.13). They
rarely install side by side, so run the script once in each environment; it
needs neither torch nor rlsight.

``--frames FILE`` also saves the first ``--steps`` frames of one environment on
level ``--level`` under a fixed action sequence (seed 0), and ``--compare FILE``
loads such a file from the other backend and prints the first step whose frame
differs.

    python benchmarks/procgen_backends.py --frames /tmp/procgen.npz         # in rlsight's venv
    python benchmarks/procgen_backends.py --compare /tmp/procgen.npz        # in a venv with envpool
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable

import numpy as np

Step = Callable[[np.ndarray], np.ndarray]  # actions (N,) -> observations (N, 64, 64, 3)
Backend = tuple[np.ndarray, Step]  # (first observations, step)


def gym3_backend(game: str, n: int, threads: int, level: int | None) -> Backend:
    from procgen import ProcgenGym3Env

    levels = dict(num_levels=1, start_level=level) if level is not None else dict(num_levels=200, start_level=0)
    env = ProcgenGym3Env(num=n, env_name=game, distribution_mode="easy", use_backgrounds=False,
                         restrict_themes=True, rand_seed=0, num_threads=threads, **levels)

    def step(actions: np.ndarray) -> np.ndarray:
        env.act(actions.astype(np.int32))
        return env.observe()[1]["rgb"]

    return env.observe()[1]["rgb"], step


def envpool_backend(game: str, n: int, threads: int, level: int | None) -> Backend:
    import envpool

    levels = dict(num_levels=1, start_level=level) if level is not None else dict(num_levels=200, start_level=0)
    env = envpool.make_gymnasium(f"{game.capitalize()}Easy-v0", num_envs=n, num_threads=threads, seed=0,
                                 use_backgrounds=False, restrict_themes=True, **levels)

    def step(actions: np.ndarray) -> np.ndarray:
        return env.step(actions.astype(np.int32))[0].transpose(0, 2, 3, 1)

    return env.reset()[0].transpose(0, 2, 3, 1), step


def procgen_gym_backend(game: str, n: int, threads: int, level: int | None) -> Backend:
    from procgen_gym.env import ProcgenVecEnv

    levels = dict(num_levels=1, start_level=level) if level is not None else dict(num_levels=200, start_level=0)
    env = ProcgenVecEnv(num_envs=n, env_name=game, distribution_mode="easy", use_backgrounds=False,
                        restrict_themes=True, rand_seed=0, num_threads=threads, **levels)

    def step(actions: np.ndarray) -> np.ndarray:
        return env.step(actions.astype(np.int32))[0]

    return env.reset()[0], step


BACKENDS = {"procgen-mirror (gym3)": ("procgen", gym3_backend), "envpool": ("envpool", envpool_backend),
            "procgen-gym": ("procgen_gym", procgen_gym_backend)}


def speed(make: Callable[..., Backend], game: str, n: int, threads: int, seconds: float) -> float:
    _, step = make(game, n, threads, None)
    rng = np.random.default_rng(0)
    for _ in range(20):  # warm-up
        step(rng.integers(0, 15, n))
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(rng.integers(0, 15, n))
        steps += n
    return steps / (time.perf_counter() - t0)


def frames(make: Callable[..., Backend], game: str, level: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    first, step = make(game, 1, 1, level)
    actions = np.random.default_rng(0).integers(0, 15, count)
    out = [first[0].copy()]
    out += [step(np.array([a]))[0].copy() for a in actions]
    return np.stack(out), actions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--game", default="starpilot")
    p.add_argument("--envs", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--level", type=int, default=7)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--frames", help="save this backend's frames of one environment to this .npz")
    p.add_argument("--compare", help="compare this backend's frames with a .npz saved by --frames")
    a = p.parse_args()
    for name, (module, make) in BACKENDS.items():
        if importlib.util.find_spec(module) is None:
            print(f"{name}: not installed in this Python")
            continue
        sps = speed(make, a.game, a.envs, a.threads, a.seconds)
        print(f"{name}: {sps:,.0f} env steps/s ({a.game}, {a.envs} envs, {a.threads} thread(s), numpy {np.__version__})")
        if a.frames or a.compare:
            obs, actions = frames(make, a.game, a.level, a.steps)
            if a.frames:
                np.savez_compressed(a.frames, obs=obs, actions=actions)
            if a.compare:
                other = np.load(a.compare)
                assert (other["actions"] == actions).all(), "the files hold different action sequences"
                n = min(len(obs), len(other["obs"]))
                differ = [i for i in range(n) if not np.array_equal(obs[i], other["obs"][i])]
                first = differ[0] if differ else None
                print(f"{name} vs {a.compare}: {n - len(differ)} of {n} frames identical; first differing step: {first}")


if __name__ == "__main__":
    main()
