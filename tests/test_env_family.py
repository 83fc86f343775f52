"""Environment families: the registry, the Procgen family behind the interface,
and a family added from outside reaching every user of ``make_env``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rlsight.config import GAMES, EnvConfig
from rlsight.envs import (
    FAMILIES,
    EnvFamily,
    VecEnv,
    family_of,
    get_family,
    make_env,
    normalized_return,
)
from rlsight.errors import RlsightError
from tests.toy_env import QuadrantEnv


def test_unknown_family_is_a_one_line_error_listing_the_known_ones():
    with pytest.raises(RlsightError) as e:
        get_family("atari2600")
    assert "\n" not in str(e.value) and "'atari2600'" in str(e.value) and "procgen" in str(e.value)


def test_a_config_without_a_family_key_is_procgen():
    fam = family_of(EnvConfig())
    assert fam.name == "procgen" and tuple(fam.games) == GAMES and fam.num_actions == 15


@pytest.mark.procgen
def test_procgen_family_makes_vector_envs_of_its_declared_shape():
    fam = get_family("procgen")
    env = make_env(EnvConfig(num_levels=5), "test", 3, seed=1)
    try:
        assert isinstance(env, VecEnv)
        rew, obs, first = env.observe()
        assert obs.shape == (3, *fam.obs_shape) and obs.dtype == np.uint8 and first.all()
        rew, obs, first = env.step(np.zeros(3, np.int64))
        assert rew.shape == (3,) and rew.dtype == np.float32
        states = env.get_state()
        after = [env.step(np.ones(3, np.int64))[1] for _ in range(3)]
        env.set_state(states)
        again = [env.step(np.ones(3, np.int64))[1] for _ in range(3)]
        np.testing.assert_array_equal(after, again)
    finally:
        env.close()


def test_normalised_return_uses_the_papers_ranges():
    assert normalized_return(EnvConfig(game="starpilot"), 64.0) == 1.0
    assert normalized_return(EnvConfig(game="starpilot"), 2.5) == 0.0
    assert normalized_return(EnvConfig(game="coinrun", distribution_mode="hard"), 7.5) == 0.5
    assert normalized_return(EnvConfig(game="maze", distribution_mode="memory"), 7.5) is None  # no published range


def test_a_registered_family_is_what_make_env_builds(monkeypatch):
    toy = EnvFamily(name="toy", games=("quadrants",), obs_shape=(64, 64, 3), num_actions=15, make=QuadrantEnv,
                    return_range=lambda game, mode: (0.0, 8.0))
    monkeypatch.setitem(FAMILIES, "toy", lambda: toy)

    @dataclasses.dataclass
    class ToyEnvConfig(EnvConfig):
        family: str = "toy"

    cfg = ToyEnvConfig(num_envs=4)
    env = make_env(cfg, "train")
    assert isinstance(env, QuadrantEnv) and env.num_envs == 4
    assert normalized_return(cfg, 4.0) == 0.5


def test_each_family_names_its_games_actions():
    """Saliency pictures label actions by the game's own names: Pong's minimal set, not
    Procgen's 15 key combinations."""
    from rlsight.envs.atari import FAMILY as ATARI
    from rlsight.envs.procgen import FAMILY as PROCGEN

    assert ATARI.names_of_actions("Pong") == ("noop", "fire", "right", "left", "right-fire", "left-fire")
    assert ATARI.names_of_actions("Freeway") == ("noop", "up", "down")
    assert all(len(ATARI.names_of_actions(g)) == ATARI.action_count(g) for g in ATARI.games)
    assert PROCGEN.names_of_actions("starpilot")[4] == "noop" and len(PROCGEN.names_of_actions("coinrun")) == 15


def test_the_side_panel_draws_the_names_it_is_given():
    from rlsight.explain.saliency.render import side_panel

    probs = np.full(6, 1 / 6)
    pong = side_panel(128, 96, 0, 1, probs, 0.0, names=("noop", "fire", "right", "left", "right-fire", "left-fire"))
    other = side_panel(128, 96, 0, 1, probs, 0.0, names=("a", "b", "c", "d", "e", "f"))
    assert not np.array_equal(pong, other)
