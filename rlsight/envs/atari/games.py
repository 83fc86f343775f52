"""The Atari games rlsight knows: ROM, minimal action count and score references
(their flavours, the modes and difficulties a config may choose, are the config's:
``rlsight.config.ATARI_FLAVOURS``).

Random and human scores: the 57-game table of Badia et al. 2020 ("Agent57",
Table H.1-H.4 columns "Random" and "Human"), whose columns go back to Mnih et al.
2015 (Nature DQN, Extended Data Table 2) and Wang et al. 2016. Human-normalised
score = (score - random) / (human - random). The action counts are ALE's minimal
action sets (ale-py 0.12.1, ``getMinimalActionSet``; a test checks them). Machado et
al. 2018 call a (mode, difficulty) pair a flavour and propose the other flavours as a
test of generalisation; mode 0 and difficulty 0 are ALE's defaults, under which the
scores were published, so other flavours have no normalised score.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlsight.config import flavour_name


@dataclass(frozen=True)
class AtariGame:
    """One game: its ALE ROM id, minimal action count and (random, human) scores."""

    rom: str
    num_actions: int
    random: float
    human: float


GAMES: dict[str, AtariGame] = {
    "Alien": AtariGame("alien", 18, 227.8, 7127.7),
    "Assault": AtariGame("assault", 7, 222.4, 742.0),
    "Asterix": AtariGame("asterix", 9, 210.0, 8503.3),
    "Asteroids": AtariGame("asteroids", 14, 719.1, 47388.7),
    "BeamRider": AtariGame("beam_rider", 9, 363.9, 16926.5),
    "Boxing": AtariGame("boxing", 18, 0.1, 12.1),
    "Breakout": AtariGame("breakout", 4, 1.7, 30.5),
    "Enduro": AtariGame("enduro", 9, 0.0, 860.5),
    "Freeway": AtariGame("freeway", 3, 0.0, 29.6),
    "MontezumaRevenge": AtariGame("montezuma_revenge", 18, 0.0, 4753.3),
    "MsPacman": AtariGame("ms_pacman", 9, 307.3, 6951.6),
    "Pong": AtariGame("pong", 6, -20.7, 14.6),
    "Qbert": AtariGame("qbert", 6, 163.9, 13455.0),
    "Seaquest": AtariGame("seaquest", 18, 68.4, 42054.7),
    "SpaceInvaders": AtariGame("space_invaders", 6, 148.0, 1668.7),
}


def flavour(game_mode: int = 0, difficulty: int = 0) -> str:
    """The flavour as ``return_range`` takes it: its short name (``m1d0``), "" for the default (0, 0)."""
    return "" if (game_mode, difficulty) == (0, 0) else flavour_name(game_mode, difficulty)


def return_range(game: str, mode: str = "") -> tuple[float, float] | None:
    """(random, human) score of ``game`` in its default flavour (``mode`` "", as ``flavour``
    names it); None for another flavour or an unknown game: no scores were published for them."""
    g = GAMES.get(game)
    return None if g is None or mode else (g.random, g.human)


def num_actions(game: str) -> int:
    """Size of ``game``'s minimal action set."""
    return GAMES[game].num_actions
