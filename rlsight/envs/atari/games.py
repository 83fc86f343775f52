"""The Atari games rlsight knows: ROM, minimal action count and score references
(their flavours, the modes and difficulties a config may choose, are the config's:
``rlsight.config.ATARI_FLAVOURS``).

Random and human scores: the 57-game table of Badia et al. 2020 ("Agent57",
Table H.1-H.4 columns "Random" and "Human"), whose columns go back to Mnih et al.
2015 (Nature DQN, Extended Data Table 2) and Wang et al. 2016. Human-normalised
score = (score - random) / (human - random). The action sets are ALE's minimal ones
(ale-py 0.12.1, ``getMinimalActionSet``; a test checks them). Machado et
al. 2018 call a (mode, difficulty) pair a flavour and propose the other flavours as a
test of generalisation; mode 0 and difficulty 0 are ALE's defaults, under which the
scores were published, so other flavours have no normalised score.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlsight.config import flavour_name

# ALE's 18 actions in its order (``ale_py.Action``); a game's minimal set is a subset
ALE_ACTIONS = ("noop", "fire", "up", "right", "left", "down", "up-right", "up-left", "down-right", "down-left",
               "up-fire", "right-fire", "left-fire", "down-fire", "up-right-fire", "up-left-fire",
               "down-right-fire", "down-left-fire")
_ALL = tuple(range(18))


@dataclass(frozen=True)
class AtariGame:
    """One game: its ALE ROM id, minimal action set (ALE action ids) and (random, human) scores."""

    rom: str
    actions: tuple[int, ...]
    random: float
    human: float

    @property
    def num_actions(self) -> int:
        """Size of the minimal action set."""
        return len(self.actions)


GAMES: dict[str, AtariGame] = {
    "Alien": AtariGame("alien", _ALL, 227.8, 7127.7),
    "Assault": AtariGame("assault", (0, 1, 2, 3, 4, 11, 12), 222.4, 742.0),
    "Asterix": AtariGame("asterix", (0, 2, 3, 4, 5, 6, 7, 8, 9), 210.0, 8503.3),
    "Asteroids": AtariGame("asteroids", (0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15), 719.1, 47388.7),
    "BeamRider": AtariGame("beam_rider", (0, 1, 2, 3, 4, 6, 7, 11, 12), 363.9, 16926.5),
    "Boxing": AtariGame("boxing", _ALL, 0.1, 12.1),
    "Breakout": AtariGame("breakout", (0, 1, 3, 4), 1.7, 30.5),
    "Enduro": AtariGame("enduro", (0, 1, 3, 4, 5, 8, 9, 11, 12), 0.0, 860.5),
    "Freeway": AtariGame("freeway", (0, 2, 5), 0.0, 29.6),
    "MontezumaRevenge": AtariGame("montezuma_revenge", _ALL, 0.0, 4753.3),
    "MsPacman": AtariGame("ms_pacman", (0, 2, 3, 4, 5, 6, 7, 8, 9), 307.3, 6951.6),
    "Pong": AtariGame("pong", (0, 1, 3, 4, 11, 12), -20.7, 14.6),
    "Qbert": AtariGame("qbert", (0, 1, 2, 3, 4, 5), 163.9, 13455.0),
    "Seaquest": AtariGame("seaquest", _ALL, 68.4, 42054.7),
    "SpaceInvaders": AtariGame("space_invaders", (0, 1, 3, 4, 11, 12), 148.0, 1668.7),
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


def action_names(game: str) -> tuple[str, ...]:
    """The names of ``game``'s minimal action set, in the policy's order ("noop", "fire", ...)."""
    return tuple(ALE_ACTIONS[a] for a in GAMES[game].actions)
