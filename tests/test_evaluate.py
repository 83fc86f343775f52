"""Unbiased evaluation and the original project's checkpoints end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from rlsight.evaluation import eval_env_count, evaluate, run_episodes
from tests.conftest import ORIGINAL_CHECKPOINTS, original_checkpoint


class _TwoSpeedEnv:
    """Env 0 ends an episode every step with return 0; env 1 every 10 steps with return 10."""

    num_envs = 2

    def __init__(self):
        self.t = 0

    def observe(self):
        return np.zeros(2, np.float32), np.zeros((2, 64, 64, 3), np.uint8), np.ones(2, bool)

    def step(self, actions):
        self.t += 1
        rew = np.array([0.0, 1.0], np.float32)
        first = np.array([True, self.t % 10 == 0])
        return rew, np.zeros((2, 64, 64, 3), np.uint8), first


def test_every_env_contributes_the_same_number_of_episodes():
    import torch

    class Uniform(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(len(x), 15), torch.zeros(len(x))

    returns = run_episodes(Uniform(), _TwoSpeedEnv(), episodes_per_env=3)
    assert returns.shape == (2, 3)
    # Counting the first 6 finished episodes would give mean 0 (all from the fast env).
    assert returns.mean() == 5.0


def test_eval_env_count_divides_episodes():
    assert eval_env_count(256) == 64 and eval_env_count(100) == 50 and eval_env_count(7) == 7


def test_evaluate_writes_its_result(tiny_run):
    r = evaluate(tiny_run, split="test", episodes=8, seed=3)
    assert r["episodes"] == 8 and r["split"] == "test" and r["start_level"] == 20
    saved = json.loads(open(r["file"]).read())
    assert saved["mean_return"] == r["mean_return"]
    r2 = evaluate(tiny_run, split="test", episodes=8, seed=3, save=False)
    assert r2["mean_return"] == r["mean_return"]  # same seed, same numbers


@pytest.mark.original
@pytest.mark.slow  # evaluates six checkpoints in subprocesses (~8 minutes of CPU)
@pytest.mark.parametrize("name", list(ORIGINAL_CHECKPOINTS))
def test_import_checkpoint_and_evaluate_every_checkpoint(name, tmp_path):
    ck = original_checkpoint(name)
    out = tmp_path / name
    cli = [sys.executable, "-m", "rlsight.cli.main"]
    p = subprocess.run([*cli, "import-checkpoint", str(ck), "--game", ORIGINAL_CHECKPOINTS[name], "--out", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([*cli, "evaluate", str(out), "--split", "test", "--episodes", "8", "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert {"mean_return", "stderr", "episodes", "normalized_return"} <= set(r)
    assert r["episodes"] == 8 and r["start_level"] == 500


def test_a_run_on_every_level_has_no_held_out_split(tmp_path):
    """env.num_levels = 0 trains on every level seed: --split test would play
    training levels under the name held-out, so it is refused; nothing is written."""
    from rlsight.errors import RlsightError
    from rlsight.evaluation import evaluate_suite
    from tests.faith_helpers import model_run

    run = model_run(tmp_path / "all", env__num_levels=0, env__num_test_envs=0)
    for call in (lambda: evaluate(run, split="test", episodes=2), lambda: evaluate_suite(run, episodes=2)):
        with pytest.raises(RlsightError, match="trained on every level .env.num_levels = 0., so none is held out"):
            call()
        assert not (run / "eval").exists()  # the suite refuses before its first (train) evaluation


class _IdleGameEnv:
    """One env whose every game runs to the cap of ``max_episode_steps`` agent steps, as an Atari
    game does when nothing presses FIRE (Breakout under a greedy policy)."""

    num_envs = 1
    max_episode_steps = 27_000  # Atari's 108,000-frame cap at frame skip 4

    def __init__(self):
        self.t = 0

    def observe(self):
        return np.zeros(1, np.float32), np.zeros((1, 1, 1, 1), np.uint8), np.ones(1, bool)

    def step(self, actions):
        self.t += 1
        return np.ones(1, np.float32), np.zeros((1, 1, 1, 1), np.uint8), np.array([self.t % self.max_episode_steps == 0])


@pytest.mark.slow  # 108,000 steps, about 15 s
def test_games_that_run_to_their_cap_are_played_to_the_end():
    """256 episodes on 64 envs are 4 games an env: 108,000 steps when each runs to the cap."""
    import torch

    from rlsight.errors import RlsightError

    class Still(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(len(x), 4), torch.zeros(len(x))

    returns = run_episodes(Still(), _IdleGameEnv(), episodes_per_env=4)
    assert returns.tolist() == [[27_000.0] * 4]
    with pytest.raises(RlsightError, match="did not finish 4 episodes per env within 1000 steps"):
        run_episodes(Still(), _IdleGameEnv(), episodes_per_env=4, max_steps=1000)  # the net for a stuck env
