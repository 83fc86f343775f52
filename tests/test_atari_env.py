"""The Atari family: its games, the two protocols (training, evaluation), exact
state save/restore, and the config's errors for Atari runs."""

from __future__ import annotations

import builtins
import dataclasses

import numpy as np
import pytest

from rlsight import config as C
from rlsight.envs import family_of, get_family, make_env, normalized_return
from rlsight.errors import RlsightError
from tests.atari_helpers import needs_ale, tiny_atari_config


def test_game_table_and_config_list_the_same_games_with_references():
    from rlsight.envs.atari.games import GAMES

    assert tuple(GAMES) == C.ATARI_GAMES
    assert all(g.human > g.random for g in GAMES.values())


def test_human_normalised_score_uses_random_and_human_references():
    cfg = tiny_atari_config().env
    assert normalized_return(cfg, -20.7) == 0.0
    assert normalized_return(cfg, 14.6) == pytest.approx(1.0)
    assert get_family("atari").return_range("Breakout", "") == (1.7, 30.5)
    assert family_of(cfg).obs_shape == (84, 84, 4) and family_of(cfg).action_count("Breakout") == 4


def _load(*sets: str) -> C.Config:
    return C.load(C.resolve_config_path("procgen-paper"), list(sets))


def test_unknown_atari_game_lists_the_nearest_names():
    with pytest.raises(RlsightError) as e:
        _load("env.family=atari", "env.game=Breakot")
    msg = str(e.value)
    assert "\n" not in msg and "'Breakot'" in msg and "nearest: Breakout" in msg and "'atari'" in msg


def test_a_procgen_game_on_an_atari_run_is_refused():
    with pytest.raises(RlsightError, match=r"env.game = 'starpilot': not a game of env.family = 'atari'"):
        _load("env.family=atari")


@pytest.mark.parametrize("key,value", [("num_levels", "5"), ("distribution_mode", "hard"), ("use_backgrounds", "false")])
def test_a_procgen_key_on_an_atari_run_names_the_family(key, value):
    with pytest.raises(RlsightError) as e:
        _load("env.family=atari", "env.game=Pong", f"env.{key}={value}")
    assert str(e.value).startswith(f"env.{key} = ") and "a Procgen key" in str(e.value) and "'atari'" in str(e.value)


@pytest.mark.parametrize("key,value", [("sticky_actions", "0.1"), ("episodic_life", "false"), ("noop_max", "3")])
def test_an_atari_key_on_a_procgen_run_names_the_family(key, value):
    with pytest.raises(RlsightError) as e:
        _load(f"env.{key}={value}")
    assert "an Atari key" in str(e.value) and "'procgen'" in str(e.value)


def test_atari_keys_at_their_default_leave_procgen_run_hashes_alone():
    # the hashes recorded before the Atari keys existed (a default config and the cpu-30min preset)
    assert C.Config().hash() == "a6b2131e36c264dd"
    assert C.load(C.resolve_config_path("cpu-30min")).hash() == "9da9873845a3a54f"


def test_missing_ale_py_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_ale(name, *args, **kwargs):
        if name == "ale_py" or name.startswith("ale_py."):
            raise ImportError("No module named 'ale_py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ale)
    with pytest.raises(RlsightError) as e:
        make_env(tiny_atari_config().env, "train", 1)
    assert "\n" not in str(e.value) and "pip install 'rlsight[atari]'" in str(e.value)


@needs_ale
def test_action_counts_are_the_emulators_minimal_action_sets():
    import ale_py
    import ale_py.roms  # noqa: F401

    from rlsight.envs.atari.games import ALE_ACTIONS, GAMES

    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    for name in GAMES:  # every game's minimal action set, in ALE's order (the names follow ale_py.Action)
        ale = ale_py.ALEInterface()
        ale.loadROM(ale_py.roms.get_rom_path(GAMES[name].rom))
        assert [a.value for a in ale.getMinimalActionSet()] == list(GAMES[name].actions), name
    assert [a.name.lower() for a in ale_py.Action.__members__.values()] == [n.replace("-", "") for n in ALE_ACTIONS]


@needs_ale
def test_observations_are_four_stacked_84x84_grey_frames_newest_last():
    env = make_env(tiny_atari_config().env, "train", 2, seed=0)
    rew, obs, first = env.observe()
    assert obs.shape == (2, 84, 84, 4) and obs.dtype == np.uint8 and first.all()
    assert (obs[..., 0] == obs[..., 3]).all()  # a new game: the stack holds the first frame 4 times
    prev = obs
    for _ in range(30):
        rew, obs, first = env.step(np.array([2, 3]))
        if not first.any():
            np.testing.assert_array_equal(obs[..., :3], prev[..., 1:])  # frames shift one place per step
        prev = obs
    env.close()


@needs_ale
@pytest.mark.parametrize("split", ["train", "test"])
def test_get_state_then_set_state_replays_exactly(split):
    cfg = tiny_atari_config("Breakout").env
    rng = np.random.default_rng(0)
    env = make_env(cfg, split, 2, seed=3)
    for _ in range(60):
        env.step(rng.integers(0, 4, 2))
    states = env.get_state()
    actions = rng.integers(0, 4, (150, 2))

    def play(e):
        return [(*e.step(a), *e.episode_stats()) for a in actions]

    a = play(env)
    other = make_env(cfg, split, 2, seed=99)  # another seed: everything must come from the state
    other.set_state(states)
    b = play(other)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)


def _play_breakout(split: str, steps: int, **env_overrides):
    cfg = dataclasses.replace(tiny_atari_config("Breakout").env, **env_overrides)
    env = make_env(cfg, split, 1, seed=1)
    rng = np.random.default_rng(1)
    firsts, overs, lives, raw, learned = [], [], [], [], []
    for _ in range(steps):
        rew, _, first = env.step(rng.integers(0, 4, 1))
        score, over = env.episode_stats()
        firsts.append(bool(first[0]))
        overs.append(bool(over[0]))
        lives.append(env.info()[0]["lives"])
        raw.append(float(score[0]))
        learned.append(float(rew[0]))
    env.close()
    return env, np.array(firsts), np.array(overs), np.array(lives), np.array(raw), np.array(learned)


class _Recorder:
    """Stands in for an ALEInterface and records the action of every emulator frame."""

    def __init__(self, ale):
        self._ale, self.acted = ale, []

    def act(self, action):
        self.acted.append(action)
        return self._ale.act(action)

    def __getattr__(self, name):
        return getattr(self._ale, name)


def _sticky_fraction(split: str, **env_overrides) -> float:
    """Of the frames where the agent's action differs from the last executed one, the share
    that executed the last one instead (Breakout, random actions)."""
    env = make_env(dataclasses.replace(tiny_atari_config("Breakout").env, **env_overrides), split, 1, seed=0)
    game = env._games[0]
    rec = game.ale = _Recorder(game.ale)
    rng = np.random.default_rng(0)
    stuck = changed = 0
    for _ in range(600):
        a = int(rng.integers(0, 4))
        before = len(rec.acted)
        prev = rec.acted[-1] if rec.acted else None
        env.act(np.array([a]))
        wanted = game.actions[a]
        for frame in rec.acted[before:before + 1]:  # the first frame of the step decides
            if prev is not None and prev != wanted:
                changed += 1
                stuck += frame == prev
    return stuck / changed


@needs_ale
def test_training_may_use_sticky_actions_and_evaluation_keeps_its_own():
    assert _sticky_fraction("train", train_sticky_actions=0.25) == pytest.approx(0.25, abs=0.04)
    assert _sticky_fraction("test", train_sticky_actions=0.5) == pytest.approx(0.25, abs=0.04)


@needs_ale
def test_evaluation_protocol_sticky_actions_whole_games_unclipped_score():
    for split, p in (("test", 0.25), ("train", 0.0)):
        assert _sticky_fraction(split) == pytest.approx(p, abs=0.04), split

    _, firsts, overs, lives, raw, learned = _play_breakout("test", 1500)
    assert overs.any(), "no game of Breakout finished in 1500 random steps"
    np.testing.assert_array_equal(firsts, overs)  # an episode ends only when the game is over
    end = int(np.flatnonzero(overs)[0])
    assert len(set(lives[:end])) >= 4  # several lives lost inside that one episode (Breakout has 5)
    np.testing.assert_array_equal(raw, learned)  # the unclipped score


@needs_ale
def test_training_protocol_ends_episodes_on_a_lost_life_and_clips_rewards():
    _, firsts, overs, lives, raw, learned = _play_breakout("train", 1500)
    assert firsts.sum() > overs.sum() >= 1  # lives end learning episodes; games end statistics' episodes
    assert (np.abs(learned) <= 1).all()
    np.testing.assert_array_equal(learned, np.sign(raw))


@needs_ale
def test_a_game_ends_at_the_frame_cap():
    _, firsts, overs, *_ = _play_breakout("test", 60, max_episode_frames=100)
    ends = np.flatnonzero(overs)
    assert ends.size >= 2 and np.diff(ends).max() <= 100 // 4 + 1


@pytest.mark.parametrize("reads", [0, 3])
def test_perturbation_blurs_only_the_chosen_frame_of_the_stack(reads):
    import torch

    from rlsight.explain.saliency.methods import make_method
    from rlsight.explain.saliency.options import MethodOptions
    from tests.saliency_helpers import RegionNet

    net = RegionNet(box=(30, 54, 30, 54), channels=(reads,))  # reads one frame of the stack only
    frames = torch.randint(0, 256, (2, 84, 84, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    maps = {f: make_method("perturbation", net, MethodOptions(stack_frame=f, chunk=64)).attribute(frames, "critic")
            for f in (-1, 0)}
    read, other = (maps[0], maps[-1]) if reads == 0 else (maps[-1], maps[0])
    assert read.max() > 0 and read[..., 20:64, 20:64].sum() > 0.95 * read.sum()  # the box, and the masks reaching it
    assert other.abs().max() <= 1e-6 * read.max()  # blurring a frame the network does not read changes nothing
    with pytest.raises(RlsightError, match=r"stack frame 4: the input has 4 stacked frames; valid: -4..3"):
        make_method("perturbation", net, MethodOptions(stack_frame=4)).attribute(frames, "critic")




@pytest.mark.parametrize("method", ["gradient", "smoothgrad", "integrated-gradients"])
@pytest.mark.parametrize("reads", [0, 3])
def test_gradient_maps_are_of_the_chosen_frame_of_the_stack(method, reads):
    """A gradient map of stacked frames is the attribution to the one frame it is drawn over (the
    newest by default), not the maximum over the stack, which lit pixels of older frames."""
    import torch

    from rlsight.explain.saliency.methods import make_method
    from rlsight.explain.saliency.options import MethodOptions
    from tests.saliency_helpers import RegionNet

    net = RegionNet(box=(30, 54, 30, 54), channels=(reads,))  # reads one frame of the stack only
    frames = torch.randint(0, 256, (2, 84, 84, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    whole = make_method(method, net, MethodOptions(samples=4)).attribute(frames, "critic")
    assert whole.shape == (2, 4, 84, 84)
    maps = {f: make_method(method, net, MethodOptions(samples=4, stack_frame=f)).attribute(frames, "critic")
            for f in (-1, 0)}
    for f, m in maps.items():
        assert m.shape == (2, 1, 84, 84)
        assert torch.allclose(m, whole[:, f:f + 1] if f >= 0 else whole[:, -1:], atol=1e-6)
    read, other = (maps[0], maps[-1]) if reads == 0 else (maps[-1], maps[0])
    assert read.max() > 0 and other.abs().max() == 0  # the frame the network does not read has no attribution
    if method == "smoothgrad":
        signed, drawn = make_method(method, net, MethodOptions(samples=4, stack_frame=-1)).attribute_signed_and_drawn(
            frames, "critic")
        assert signed.shape == drawn.shape == (2, 1, 84, 84)
    with pytest.raises(RlsightError, match=r"stack frame 4: the input has 4 stacked frames; valid: -4..3"):
        make_method(method, net, MethodOptions(stack_frame=4)).attribute(frames, "critic")


def test_a_stack_frame_for_frames_that_are_not_stacked_is_refused():
    from rlsight.explain.saliency.options import MethodOptions

    assert MethodOptions().for_family("atari").stack_frame == -1
    assert MethodOptions(stack_frame=0).for_family("atari").stack_frame == 0
    assert MethodOptions().for_family("procgen").stack_frame is None
    with pytest.raises(RlsightError, match=r"--stack-frame 0: for runs whose frames are stacked \(Atari\); a procgen "
                                           "frame is one colour image"):
        MethodOptions(stack_frame=0).for_family("procgen")


# -- flavours (game modes and difficulties, Machado et al. 2018) --------------------------------
@needs_ale
def test_flavour_table_is_the_emulators():
    import ale_py
    import ale_py.roms  # noqa: F401

    from rlsight.envs.atari.games import GAMES

    assert tuple(C.ATARI_FLAVOURS) == C.ATARI_GAMES
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    for name, game in GAMES.items():
        ale = ale_py.ALEInterface()
        ale.loadROM(ale_py.roms.get_rom_path(game.rom))
        modes, difficulties = C.ATARI_FLAVOURS[name]
        assert tuple(int(m) for m in ale.getAvailableModes()) == modes, name
        assert tuple(int(d) for d in ale.getAvailableDifficulties()) == difficulties, name


@pytest.mark.parametrize("sets,message", [
    (["env.game=Pong", "env.game_mode=2"], "env.game_mode = 2: Pong has the modes 0, 1"),
    (["env.game=Breakout", "env.difficulty=7"], "env.difficulty = 7: Breakout has the difficulties 0, 1"),
    (["env.game=Assault", "env.game_mode=1"], "env.game_mode = 1: Assault has the modes 0"),
])
def test_a_flavour_the_game_lacks_is_refused_naming_the_games_own(sets, message):
    with pytest.raises(RlsightError) as e:
        _load("env.family=atari", *sets)
    assert str(e.value) == message


def test_a_flavour_key_on_a_procgen_run_names_the_family():
    with pytest.raises(RlsightError, match="env.game_mode = 1: an Atari key"):
        _load("env.game_mode=1")


def test_only_the_default_flavour_has_a_human_normalised_score():
    cfg = tiny_atari_config().env
    assert normalized_return(cfg, 14.6) == pytest.approx(1.0)
    for other in ({"difficulty": 1}, {"game_mode": 1}):
        assert normalized_return(dataclasses.replace(cfg, **other), 14.6) is None, other


@needs_ale
def test_the_flavour_reaches_the_emulator():
    def frames(**flavour) -> np.ndarray:
        env = make_env(dataclasses.replace(tiny_atari_config("Breakout").env, **flavour), "test", 1, seed=2)
        rng = np.random.default_rng(0)
        out = np.stack([env.step(rng.integers(0, 4, 1))[1][0] for _ in range(80)])
        env.close()
        return out

    default = frames()
    np.testing.assert_array_equal(default, frames())  # the same flavour and seed play the same
    assert not np.array_equal(default, frames(game_mode=12))
    assert not np.array_equal(default, frames(difficulty=1))


def test_a_missing_backend_is_refused_before_the_run_directory_is_made(tmp_path, monkeypatch):
    """Without ale-py, ``rlsight train`` on an Atari config says how to install it and makes
    nothing: the same command works once it is installed."""
    import rlsight.envs.atari.backend as backend
    from rlsight.errors import RlsightError
    from rlsight.training import train
    from tests.atari_helpers import tiny_atari_config

    def missing():
        raise RlsightError(f"env.family = 'atari' needs ale-py, which is not installed; {backend.INSTALL}")

    monkeypatch.setattr(backend, "import_ale", missing)
    with pytest.raises(RlsightError, match=r"pip install 'rlsight\[atari\]'"):
        train(tiny_atari_config(), tmp_path / "runs" / "pong0", progress=False)
    assert not (tmp_path / "runs" / "pong0").exists()
