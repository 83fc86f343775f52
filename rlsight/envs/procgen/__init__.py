"""The Procgen family (Cobbe et al. 2020): 16 games, 64x64 RGB frames, 15 actions,
through procgen's gym3 interface (``vecenv.ProcgenVecEnv``)."""

from __future__ import annotations

from rlsight.config import GAMES
from rlsight.envs.family import EnvFamily
from rlsight.envs.procgen.normalization import RETURN_RANGES, return_range
from rlsight.envs.procgen.vecenv import (
    LevelSplit,
    ProcgenVecEnv,
    make_procgen,
    require_procgen,
    split_levels,
)

# the 15 actions: the key combinations of procgen's env.py
ACTION_NAMES = ("left-down", "left", "left-up", "down", "noop", "up", "right-down", "right",
                "right-up", "key-d", "key-a", "key-w", "key-s", "key-q", "key-e")

FAMILY = EnvFamily(name="procgen", games=GAMES, obs_shape=(64, 64, 3), num_actions=15, make=make_procgen,
                   return_range=return_range, require=require_procgen, action_names=lambda game: ACTION_NAMES)

__all__ = ["FAMILY", "ProcgenVecEnv", "LevelSplit", "split_levels", "RETURN_RANGES", "make_procgen"]
