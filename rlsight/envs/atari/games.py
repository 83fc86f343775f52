"""The Atari games rlsight knows: ROM, minimal action count, game modes and
difficulties, and score references.

Random and human scores: the 57-game table of Badia et al. 2020 ("Agent57",
Table H.1-H.4 columns "Random" and "Human"), whose columns go back to Mnih et al.
2015 (Nature DQN, Extended Data Table 2) and Wang et al. 2016. Human-normalised
score = (score - random) / (human - random). The action counts are ALE's minimal
action sets, the modes and difficulties ALE's ``getAvailableModes`` and
``getAvailableDifficulties`` (ale-py 0.12.1; a test checks them). Machado et al. 2018
call a (mode, difficulty) pair a flavour and propose the other flavours as a test of
generalisation; mode 0 and difficulty 0 are ALE's defaults, under which the scores were
published, so other flavours have no normalised score.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AtariGame:
    """One game: its ALE ROM id, minimal action count, (random, human) scores, modes and difficulties."""

    rom: str
    num_actions: int
    random: float
    human: float
    modes: tuple[int, ...] = (0,)
    difficulties: tuple[int, ...] = (0,)


GAMES: dict[str, AtariGame] = {
    "Alien": AtariGame("alien", 18, 227.8, 7127.7, modes=tuple(range(4)), difficulties=tuple(range(4))),
    "Assault": AtariGame("assault", 7, 222.4, 742.0),
    "Asterix": AtariGame("asterix", 9, 210.0, 8503.3),
    "Asteroids": AtariGame("asteroids", 14, 719.1, 47388.7, modes=(*range(32), 128), difficulties=(0, 3)),
    "BeamRider": AtariGame("beam_rider", 9, 363.9, 16926.5, difficulties=(0, 1)),
    "Boxing": AtariGame("boxing", 18, 0.1, 12.1, difficulties=tuple(range(4))),
    "Breakout": AtariGame("breakout", 4, 1.7, 30.5, modes=tuple(range(0, 48, 4)), difficulties=(0, 1)),
    "Enduro": AtariGame("enduro", 9, 0.0, 860.5),
    "Freeway": AtariGame("freeway", 3, 0.0, 29.6, modes=tuple(range(8)), difficulties=(0, 1)),
    "MontezumaRevenge": AtariGame("montezuma_revenge", 18, 0.0, 4753.3),
    "MsPacman": AtariGame("ms_pacman", 9, 307.3, 6951.6, modes=tuple(range(4))),
    "Pong": AtariGame("pong", 6, -20.7, 14.6, modes=(0, 1), difficulties=tuple(range(4))),
    "Qbert": AtariGame("qbert", 6, 163.9, 13455.0, difficulties=(0, 1)),
    "Seaquest": AtariGame("seaquest", 18, 68.4, 42054.7, difficulties=(0, 1)),
    "SpaceInvaders": AtariGame("space_invaders", 6, 148.0, 1668.7, modes=tuple(range(16)), difficulties=(0, 1)),
}


def flavour(game_mode: int = 0, difficulty: int = 0) -> str:
    """A flavour's short name, as Machado et al. 2018 write it (``m1d0``); "" for the default (0, 0)."""
    return "" if (game_mode, difficulty) == (0, 0) else f"m{game_mode}d{difficulty}"


def return_range(game: str, flavour: str = "") -> tuple[float, float] | None:
    """(random, human) score of ``game`` in its default flavour (``flavour`` ""); None for
    another flavour or an unknown game: no scores were published for them."""
    g = GAMES.get(game)
    return None if g is None or flavour else (g.random, g.human)


def num_actions(game: str) -> int:
    """Size of ``game``'s minimal action set."""
    return GAMES[game].num_actions
