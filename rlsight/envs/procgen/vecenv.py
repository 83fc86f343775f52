"""Procgen vector environments through the gym3 interface, as numpy arrays.

gym3 semantics: ``observe()`` gives (reward of the last action, observation,
first), where ``first`` marks an observation that starts a new episode.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from rlsight.config import EnvConfig
from rlsight.errors import MissingExtraError, SystemLibraryError

PROCGEN_INSTALL = "pip install 'rlsight[procgen]' (Python 3.11 or 3.12, numpy<2; scripts/install.sh does it)"


def require_procgen() -> None:
    """Raise the one-line ``MissingExtraError`` when procgen is not installed (cheap: imports nothing)."""
    for module in ("procgen", "gym3"):
        # None in sys.modules: an import of it is blocked, as Python itself treats it
        known = module in sys.modules
        if (sys.modules[module] is None) if known else (importlib.util.find_spec(module) is None):
            raise _missing(module)


def _missing(module: str) -> MissingExtraError:
    return MissingExtraError(f"env.family = 'procgen' needs the Procgen games, which are not installed "
                             f"(no module {module!r}): {PROCGEN_INSTALL}")


def _import_procgen():
    """Import procgen without gym's deprecation banner in the user's terminal; a missing
    procgen (an install without the ``procgen`` extra) is a one-line error naming the fix."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            from procgen import ProcgenGym3Env
        except ModuleNotFoundError as e:
            if e.name not in ("procgen", "gym3"):
                raise
            raise _missing(str(e.name)) from None
    return ProcgenGym3Env


@dataclass(frozen=True)
class LevelSplit:
    """Levels [start_level, start_level + num_levels); num_levels 0 = unbounded."""

    start_level: int
    num_levels: int


def split_levels(cfg: EnvConfig, split: str) -> LevelSplit:
    """The training levels, or the held-out levels that never overlap them."""
    if split == "train":
        return LevelSplit(cfg.start_level, cfg.num_levels)
    if split == "test":
        return LevelSplit(*cfg.test_levels())
    raise ValueError(f"split {split!r}: expected 'train' or 'test'")


class ProcgenVecEnv:
    """``num_envs`` copies of one game on one level split.

    ``render=True`` also returns the 512x512 frames that Procgen renders
    (``info[i]["rgb"]``), for videos. Procgen steps the environments on
    ``threads`` threads (default: one per core, at most one per environment); the
    results do not depend on the number.
    """

    def __init__(self, cfg: EnvConfig, split: str, num_envs: int, seed: int, render: bool = False,
                 threads: int = 0):
        self.cfg = cfg
        self.split = split
        self.levels = split_levels(cfg, split)
        self.num_envs = num_envs
        kwargs = {"render_mode": "rgb_array"} if render else {}
        try:
            self._env = self._make(num_envs, seed, threads, kwargs)
        except OSError as e:
            if "cannot load library" not in str(e):
                raise
            # e.g. "cannot load library '.../libenv.so': libGL.so.1: cannot open shared object file: ..."
            missing = str(e).split("': ", 1)[-1].split(".  ")[0].rstrip(".")
            raise SystemLibraryError(
                f"procgen cannot load its game library ({missing}); install the system libraries it "
                "links, on Debian/Ubuntu: apt-get install libgl1 libglib2.0-0 libx11-6") from None

    def _make(self, num_envs: int, seed: int, threads: int, kwargs: dict):
        cfg = self.cfg
        return _import_procgen()(
            num=num_envs,
            env_name=cfg.game,
            num_levels=self.levels.num_levels,
            start_level=self.levels.start_level,
            distribution_mode=cfg.distribution_mode,
            use_backgrounds=cfg.use_backgrounds,
            restrict_themes=cfg.restrict_themes,
            use_monochrome_assets=cfg.use_monochrome_assets,
            rand_seed=int(seed) % (2**31),
            num_threads=max(1, min(threads or os.cpu_count() or 1, num_envs)),
            **kwargs,
        )

    def observe(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reward (N,) float32, obs (N, 64, 64, 3) uint8, first (N,) bool)."""
        rew, ob, first = self._env.observe()
        return rew.astype(np.float32), ob["rgb"], first.astype(bool)

    def act(self, actions: np.ndarray) -> None:
        """Start a step; Procgen steps on its own threads until ``observe``."""
        self._env.act(np.asarray(actions, dtype=np.int32))

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``act`` then ``observe``."""
        self.act(actions)
        return self.observe()

    def info(self) -> list[dict]:
        """Per-env info: level_seed, prev_level_complete, and 'rgb' when rendering."""
        return self._env.get_info()

    def get_state(self) -> list[bytes]:
        """Each environment's serialised state (game and random state)."""
        return self._env.callmethod("get_state")

    def set_state(self, states: list[bytes]) -> None:
        """Restore what ``get_state`` returned."""
        self._env.callmethod("set_state", states)

    def close(self) -> None:
        """Free the environments."""
        self._env.close()


def make_procgen(cfg: EnvConfig, split: str = "train", num_envs: int | None = None, seed: int = 0,
                 render: bool = False) -> ProcgenVecEnv:
    """A Procgen vector env on the ``train`` or held-out ``test`` levels (the family's ``make``)."""
    return ProcgenVecEnv(cfg, split, num_envs or cfg.num_envs, seed, render=render)
