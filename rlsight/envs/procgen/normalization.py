"""Procgen-normalised return: (R - R_min) / (R_max - R_min), constants from
Cobbe et al. 2020 ("Leveraging Procedural Generation to Benchmark RL"), Table 2/3."""

from __future__ import annotations

# game: (easy min, easy max, hard min, hard max)
RETURN_RANGES = {
    "coinrun": (5, 10, 5, 10),
    "starpilot": (2.5, 64, 1.5, 35),
    "caveflyer": (3.5, 12, 2, 13.4),
    "dodgeball": (1.5, 19, 1.5, 19),
    "fruitbot": (-1.5, 32.4, -0.5, 27.2),
    "chaser": (0.5, 13, 0.5, 14.2),
    "miner": (1.5, 13, 1.5, 20),
    "jumper": (1, 10, 1, 10),
    "leaper": (1.5, 10, 1.5, 10),
    "maze": (5, 10, 4, 10),
    "bigfish": (1, 40, 0, 40),
    "heist": (3.5, 10, 2, 10),
    "climber": (2, 12.6, 1, 12.6),
    "plunder": (4.5, 30, 3, 30),
    "ninja": (3.5, 10, 2, 10),
    "bossfight": (0.5, 13, 0.5, 13),
}


def return_range(game: str, mode: str) -> tuple[float, float] | None:
    """(R_min, R_max) of ``game`` in easy or hard mode; None where the paper gives no constants."""
    if game not in RETURN_RANGES or mode not in ("easy", "hard"):
        return None
    lo, hi = RETURN_RANGES[game][:2] if mode == "easy" else RETURN_RANGES[game][2:]
    return float(lo), float(hi)


def normalized_return(game: str, mode: str, ret: float) -> float | None:
    """Normalised return for easy and hard mode; None where the paper gives no constants."""
    r = return_range(game, mode)
    return None if r is None else (ret - r[0]) / (r[1] - r[0])
