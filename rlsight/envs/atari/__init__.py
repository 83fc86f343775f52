"""The Atari family (Arcade Learning Environment through ale-py): 84x84 grey frames,
4 stacked, each game's minimal action set and flavours (game mode, difficulty), scores
normalised by (random, human) in the default flavour."""

from __future__ import annotations

from rlsight.envs.atari.backend import require_atari
from rlsight.envs.atari.games import GAMES, action_names, flavour, num_actions, return_range
from rlsight.envs.atari.vecenv import AtariVecEnv, make_atari
from rlsight.envs.family import EnvFamily

FAMILY = EnvFamily(name="atari", games=tuple(GAMES), obs_shape=(84, 84, 4), num_actions=18, make=make_atari,
                   return_range=return_range, actions_for=num_actions, action_names=action_names, require=require_atari,
                   mode_of=lambda get: flavour(int(get("game_mode", 0)), int(get("difficulty", 0))))

__all__ = ["FAMILY", "AtariVecEnv", "GAMES", "make_atari", "return_range"]
