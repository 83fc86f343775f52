"""Rollouts: every stored observation, action and reward belongs to the same
environment and step, and the environments are driven act/observe in turn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlsight.training.rollout import RolloutCollector
from rlsight.training.trainer import Trainer
from tests.conftest import tiny_config

EPISODE = 5
PENALTY = 0.5


class CounterEnv:
    """Each environment counts its steps from a seed-dependent start; the count is
    written into the observation, the reward is 1000 * action + count, an episode
    ends every 5 counts and every second ending completes the level. Acting twice
    without observing, or reading info while a step is pending, is an error (as it
    is for Procgen, which steps between ``act`` and ``observe``)."""

    made: list[CounterEnv] = []

    def __init__(self, cfg, split: str, num_envs: int, seed: int, render: bool = False):
        self.split, self.seed = split, seed
        self.count = (np.arange(num_envs) * 37 + seed * 11) % 500
        self.rew = np.zeros(num_envs, np.float32)
        self.first = np.ones(num_envs, bool)
        self.pending = False
        self.acts = 0
        CounterEnv.made.append(self)

    def observe(self):
        self.pending = False
        obs = np.zeros((len(self.count), 64, 64, 3), np.uint8)
        obs[:, 0, 0, 0], obs[:, 0, 0, 1] = self.count % 256, self.count // 256
        return self.rew.copy(), obs, self.first.copy()

    def act(self, actions) -> None:
        assert not self.pending, "act called again before observe"
        self.rew = (np.asarray(actions) * 1000 + self.count).astype(np.float32)
        self.count = self.count + 1
        self.first = self.count % EPISODE == 0
        self.pending, self.acts = True, self.acts + 1

    def info(self):
        assert not self.pending, "info read while a step is pending"
        return [{"prev_level_complete": int(c % (2 * EPISODE) == 0)} for c in self.count]

    def get_state(self):
        return [np.array([c]).tobytes() for c in self.count]

    def set_state(self, states):
        self.count = np.array([np.frombuffer(s, dtype=self.count.dtype)[0] for s in states])

    def close(self) -> None:
        pass


def _decode(obs: torch.Tensor) -> np.ndarray:
    o = obs.numpy().astype(np.int64)
    return o[..., 0, 0, 0] + 256 * o[..., 0, 0, 1]


def test_stored_steps_line_up():
    """Seven environments with held-out envs and the death penalty: observation,
    action and reward of each (step, env) agree."""
    CounterEnv.made = []
    T, N = 6, 7
    cfg = tiny_config(env__num_envs=N, env__num_test_envs=3, ppo__num_steps=T, ppo__batch_size=T * N,
                      ppo__gamma=1e-9, ppo__normalize_reward=False, env__penalize_on_death=True,
                      env__death_penalty=PENALTY)
    torch.manual_seed(0)
    from rlsight.models import build_model

    model = build_model(cfg.model)
    envs = RolloutCollector(cfg, model, torch.device("cpu"), CounterEnv, seed=3)
    train_envs = [e for e in CounterEnv.made if e.split == "train"]
    assert [e.seed for e in train_envs] == [3]
    envs.start()
    last = None
    for _ in range(2):  # two rollouts: the second continues where the first stopped
        b = envs.collect()["batch"]
        count = _decode(b.obs).reshape(T, N)
        actions = b.actions.numpy().reshape(T, N)
        rewards = b.returns.numpy().reshape(T, N)  # gamma ~0: the return is the step's reward
        ended = (count + 1) % EPISODE == 0
        died = ended & ((count + 1) % (2 * EPISODE) != 0)
        expected = actions * 1000 + count - PENALTY * died
        np.testing.assert_allclose(rewards, expected, atol=0.02)
        np.testing.assert_array_equal(count[1:], count[:-1] + 1)
        if last is not None:
            np.testing.assert_array_equal(count[0], last + 1)
        last = count[-1]
    assert all(e.acts == 2 * T for e in CounterEnv.made)
    lengths = [ep[2] for ep in envs.test_tracker.drain()]
    assert lengths and all(n <= EPISODE for n in lengths)


def test_validation_names_the_value():
    from rlsight.config import ConfigError

    with pytest.raises(ConfigError, match=r"train.autocast = 'fp8': valid: off, bf16"):
        tiny_config(train__autocast="fp8")


def test_keys_added_later_keep_the_hash_of_older_runs():
    """Runs recorded before ``train.env_groups``, ``train.autocast`` and
    ``train.compile`` existed resume: at their defaults those keys are not hashed
    (hash values recorded before the keys were added)."""
    from rlsight import config as C

    assert C.Config().hash() == "a6b2131e36c264dd"
    assert C.load("cpu-30min").hash() == "9da9873845a3a54f"
    written_before = "\n".join(line for line in C.load("cpu-30min").to_toml().splitlines()
                               if not line.startswith(("env_groups", "autocast", "compile")))
    assert C.loads(written_before).hash() == "9da9873845a3a54f"
    assert C.load("cpu-30min", ["train.autocast=bf16"]).hash() != "9da9873845a3a54f"


def test_trainer_steps_the_environments(tmp_path):
    """The trainer builds the training environments and steps them num_steps times per update."""
    from rlsight.runs import RunDir

    CounterEnv.made = []
    cfg = tiny_config(env__num_envs=6, env__num_test_envs=0, ppo__num_steps=4, ppo__batch_size=24,
                      train__total_steps=48)
    Trainer(cfg, RunDir.create(tmp_path / "r", cfg), progress=False, env_factory=CounterEnv).train()
    assert [e.acts for e in CounterEnv.made] == [8]


@pytest.mark.procgen
def test_procgen_steps_the_same_on_any_number_of_threads():
    """The env's thread count follows the machine's cores; the game must not depend on it."""
    from rlsight.config import EnvConfig
    from rlsight.envs.procgen import ProcgenVecEnv

    def frames(threads: int) -> list[np.ndarray]:
        env = ProcgenVecEnv(EnvConfig(num_levels=10), "train", 6, seed=4, threads=threads)
        rng, out = np.random.default_rng(0), []
        for _ in range(40):
            rew, obs, first = env.step(rng.integers(0, 15, 6))
            out += [rew, obs, first]
        env.close()
        return out

    for a, b in zip(frames(1), frames(3)):
        np.testing.assert_array_equal(a, b)
