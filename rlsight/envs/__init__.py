"""Procgen vector environments, level splits and episode statistics."""

from rlsight.envs.procgen import LevelSplit, ProcgenVecEnv, make_env, split_levels
from rlsight.envs.stats import EpisodeTracker

__all__ = ["ProcgenVecEnv", "make_env", "split_levels", "LevelSplit", "EpisodeTracker"]
