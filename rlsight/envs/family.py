"""Environment families behind one interface, and their registry.

A family (Procgen today; Atari can plug in) is an ``EnvFamily``: its games, the
shape of its observations, its action count, a factory of vector environments,
the score range used to normalise returns, and ``require()``, which refuses in one
line, naming the install command, when the family's backend is not installed.
Everything above ``rlsight.envs`` (the trainer, evaluation, saliency) asks the family
of ``cfg.env`` for these and never imports a backend itself.

A vector environment (``VecEnv``) follows gym3's semantics: there is no reset;
after construction ``observe()`` gives the first observations, and an
environment whose episode ended starts the next one by itself. ``observe()``
returns (reward of the last action (N,) float32, observation (N, H, W, C) uint8,
first (N,) bool), where ``first`` marks an observation that starts an episode.
``act(actions)`` starts a step (the family may step on its own threads until the
next ``observe``); ``step`` is both. ``info()`` gives per-environment dicts: the
key ``prev_level_complete`` (1 when the episode that just ended was won; the
death penalty reads it) and, for an environment made with ``render=True``, an
``rgb`` frame (H', W', 3) uint8 for videos. A family whose learning rewards or
episode ends differ from the game's (Atari: clipped rewards, a lost life ending the
episode) also has ``episode_stats()`` -> (unclipped reward (N,), game over (N,)),
which episode statistics count instead. ``get_state``/``set_state`` save and
restore every environment, random state included (resume is exact only where
they are). ``close()`` frees the environments.

To add a family: write its ``VecEnv`` and an ``EnvFamily`` in a subpackage of
``rlsight.envs`` and add it to ``FAMILIES``; runs choose it with
``env.family = "<name>"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rlsight.errors import RlsightError


@runtime_checkable
class VecEnv(Protocol):
    """``num_envs`` environments stepped together (semantics in the module docstring)."""

    num_envs: int

    def observe(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reward (N,) float32, obs (N, H, W, C) uint8, first (N,) bool)."""
        ...

    def act(self, actions: np.ndarray) -> None:
        """Start a step with one action per environment."""
        ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``act`` then ``observe``."""
        ...

    def info(self) -> list[dict]:
        """Per-environment info of the last step (``prev_level_complete``; ``rgb`` when rendering)."""
        ...

    def get_state(self) -> list[bytes]:
        """Every environment's state, random state included."""
        ...

    def set_state(self, states: list[bytes]) -> None:
        """Restore what ``get_state`` returned."""
        ...

    def close(self) -> None:
        """Free the environments."""
        ...


class MakeEnv(Protocol):
    """``make(cfg_env, split, num_envs, seed, render)``: a vector env on the ``train``
    levels or the held-out ``test`` levels, seeded with ``seed``."""

    def __call__(self, cfg: Any, split: str, num_envs: int, seed: int, render: bool = False) -> VecEnv:
        """A vector env of ``num_envs`` environments on ``split``'s levels."""
        ...


@dataclass(frozen=True)
class EnvFamily:
    """One family of environments, as the rest of rlsight sees it.

    ``obs_shape`` is (H, W, C) as ``observe`` returns frames; ``action_count(game)``
    the action space of a game (``num_actions``, or ``actions_for(game)`` where the
    games differ); ``return_range(game, mode)`` gives (R_min, R_max) for normalised
    returns, or None where none is published; ``mode_of(get)`` names the variant of the
    games a config plays, as ``return_range`` wants it (Procgen's distribution mode,
    Atari's flavour), from ``get(key, default)``, which reads a key of the [env] section.
    """

    name: str
    games: Sequence[str]
    obs_shape: tuple[int, int, int]
    num_actions: int
    make: MakeEnv
    return_range: Callable[[str, str], tuple[float, float] | None]
    # raises a one-line RlsightError naming the install command when the backend is missing
    # (called before a run directory is made; readers of finished runs do not need it)
    require: Callable[[], None] = lambda: None
    actions_for: Callable[[str], int] | None = None  # per-game action count, where games differ
    action_names: Callable[[str], Sequence[str]] | None = None  # a game's action names, in the policy's order
    mode_of: Callable[[Callable[[str, Any], Any]], str] = lambda get: str(get("distribution_mode", "easy"))

    def action_count(self, game: str) -> int:
        """Size of ``game``'s action space (``num_actions`` unless the family's games differ)."""
        return self.actions_for(game) if self.actions_for is not None else self.num_actions

    def names_of_actions(self, game: str) -> tuple[str, ...]:
        """``game``'s action names for pictures and tables (the indices where the family has none)."""
        if self.action_names is not None:
            return tuple(self.action_names(game))
        return tuple(str(a) for a in range(self.action_count(game)))

    def normalized_return(self, game: str, mode: str, ret: float) -> float | None:
        """(R - R_min) / (R_max - R_min), or None without published constants."""
        r = self.return_range(game, mode)
        return None if r is None else (ret - r[0]) / (r[1] - r[0])


def _procgen() -> EnvFamily:
    from rlsight.envs.procgen import FAMILY

    return FAMILY


def _atari() -> EnvFamily:
    from rlsight.envs.atari import FAMILY

    return FAMILY


# name -> a function that builds the family (imported on first use, so a family's
# backend is only needed by runs that use it)
FAMILIES: dict[str, Callable[[], EnvFamily]] = {"procgen": _procgen, "atari": _atari}
DEFAULT_FAMILY = "procgen"


def get_family(name: str) -> EnvFamily:
    """The family registered as ``name``; an unknown name is a one-line error listing the known ones."""
    if name not in FAMILIES:
        raise RlsightError(f"env.family = {name!r}: unknown environment family; valid: {', '.join(FAMILIES)}")
    return FAMILIES[name]()


def family_of(cfg_env: Any) -> EnvFamily:
    """The family of an ``EnvConfig`` (``env.family``, "procgen" where the config has no such key)."""
    return get_family(getattr(cfg_env, "family", DEFAULT_FAMILY))


def make_env(cfg_env: Any, split: str = "train", num_envs: int | None = None, seed: int = 0,
             render: bool = False) -> VecEnv:
    """A vector env of ``cfg_env``'s family on the ``train`` or held-out ``test`` levels
    (``num_envs`` defaults to ``cfg_env.num_envs``)."""
    return family_of(cfg_env).make(cfg_env, split, num_envs or cfg_env.num_envs, seed, render)


def episode_stats(env: Any, reward: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reward, episode ended) that episode statistics should count for ``env``'s last step:
    the env's ``episode_stats()`` where it has one (unclipped score, game over), else ``reward, first``."""
    stats = getattr(env, "episode_stats", None)
    return stats() if stats is not None else (reward, first)


def normalized_return(cfg_env: Any, ret: float, game: str | None = None) -> float | None:
    """``ret`` normalised with the published range of ``cfg_env``'s game and mode (None where there is none)."""
    family = family_of(cfg_env)
    mode = family.mode_of(lambda key, default: getattr(cfg_env, key, default))
    return family.normalized_return(game or cfg_env.game, mode, ret)
