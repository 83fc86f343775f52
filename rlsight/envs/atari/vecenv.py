"""Atari vector environments: one ALE emulator per environment, stepped in turn.

The game plays in the config's flavour (``env.game_mode``, ``env.difficulty``; ALE's
defaults are 0 and 0). Preprocessing (Mnih et al. 2015; Machado et al. 2018 for
evaluation): frame skip 4 with the maximum of the last two frames, 84x84 grey (OpenCV
area resize), the last 4 frames stacked as channels (newest last), FIRE pressed after a
reset in games that need it. The ``train`` split adds no-op starts (1..noop_max raw
frames), episodic life (a lost life ends the episode for learning), reward clipping to
its sign and, if ``env.train_sticky_actions`` > 0, sticky actions; the ``test`` split is
the evaluation protocol: sticky actions (``env.sticky_actions``), whole games, the
unclipped score. Both end a game at ``env.max_episode_frames`` emulator frames.

Each emulator's state, with its random state (ALE ``cloneState(include_rng=True)``), and
this class's own (frame stack, the generator of no-ops and sticky actions, the last
executed action, lives) go into ``get_state``, so a resumed run steps exactly as an
uninterrupted one. Sticky actions are drawn here rather than by ALE, whose saved state
does not hold the action that sticks (a restored ALE with its own sticky actions
diverged from the original within 150 steps).
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from rlsight.envs.atari.backend import import_ale, import_cv2, rom_path
from rlsight.envs.atari.games import GAMES

FRAME_SKIP = 4
STACK = 4
SIZE = 84
_FIRE = 1  # ALE action id of FIRE


class _Game:
    """One emulator, its frame stack and the bookkeeping of lives and episodes."""

    def __init__(self, ale_py: Any, cv2: Any, rom: str, seed_seq: np.random.SeedSequence, sticky: float,
                 max_frames: int, noop_max: int, episodic_life: bool, game_mode: int = 0, difficulty: int = 0):
        ale = ale_py.ALEInterface()
        ale.setInt("random_seed", int(seed_seq.generate_state(1)[0] % 2**31))
        ale.setFloat("repeat_action_probability", 0.0)  # sticky actions are ours (below): their state resumes
        ale.setInt("max_num_frames_per_episode", int(max_frames))
        ale.loadROM(rom)
        ale.setMode(int(game_mode))  # the flavour takes effect at the next reset_game (new_game, below)
        ale.setDifficulty(int(difficulty))
        self.ale, self.cv2, self._state_cls = ale, cv2, ale_py.ALEState
        self.actions = list(ale.getMinimalActionSet())
        self.fire = len(self.actions) >= 3 and self.actions[1].value == _FIRE
        self.rng = np.random.Generator(np.random.PCG64(seed_seq))
        self.noop_max, self.episodic_life, self.sticky = noop_max, episodic_life, float(sticky)
        self.last = 0  # the action the emulator executed last (index), for sticky actions
        self.stack = np.zeros((SIZE, SIZE, STACK), np.uint8)
        self._screens = np.zeros((2, 210, 160), np.uint8)
        self.lives = 0
        self.new_game()

    # -- emulator steps ---------------------------------------------------------------
    def _skip(self, action: int) -> tuple[float, np.ndarray]:
        """One agent step: ``action`` for FRAME_SKIP frames; (summed score, max of the last two screens)."""
        ale, total, grabbed = self.ale, 0.0, 0
        for k in range(FRAME_SKIP):
            # sticky actions (Machado et al. 2018): each frame repeats the last executed action
            # with probability ``sticky``; drawn here, not in ALE, so that get_state holds the stream
            if not (self.sticky and self.rng.random() < self.sticky):
                self.last = action
            total += ale.act(self.actions[self.last])
            if k >= FRAME_SKIP - 2:
                ale.getScreenGrayscale(self._screens[grabbed])
                grabbed += 1
            if ale.game_over():
                break
        if grabbed < 2:  # the game ended before the last two frames: the current screen
            ale.getScreenGrayscale(self._screens[0])
            return total, self._screens[0]
        return total, np.maximum(self._screens[0], self._screens[1])

    def _screen(self) -> np.ndarray:
        self.ale.getScreenGrayscale(self._screens[0])
        return self._screens[0]

    def _fire_start(self) -> np.ndarray:
        """Press FIRE (then the next action), as games with a serve need; the screen after."""
        _, screen = self._skip(1)
        if not self.ale.game_over():
            _, screen = self._skip(2)
        return screen

    def _restart(self, screen: np.ndarray) -> None:
        if self.fire and not self.ale.game_over():
            screen = self._fire_start()
        self.lives = self.ale.lives()
        self.stack[:] = self._resize(screen)[..., None]

    def new_game(self) -> None:
        """Reset the game, play the no-op start, fill the stack with the first frame."""
        ale = self.ale
        ale.reset_game()
        self.last = 0
        noops = int(self.rng.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):
            ale.act(self.actions[0])
            if ale.game_over():
                ale.reset_game()
        self._restart(self._screen())

    def new_life(self) -> None:
        """After a life lost under episodic life: one no-op step, then FIRE where needed."""
        _, screen = self._skip(0)
        self._restart(screen)

    def _resize(self, screen: np.ndarray) -> np.ndarray:
        return self.cv2.resize(screen, (SIZE, SIZE), interpolation=self.cv2.INTER_AREA)

    def step(self, action: int) -> tuple[float, bool, bool]:
        """One agent step; (score, episode ended for learning, game over). A finished episode restarts."""
        score, screen = self._skip(int(action))
        if self.ale.game_over():
            self.new_game()
            return score, True, True
        lives = self.ale.lives()
        if self.episodic_life and 0 < lives < self.lives:
            self.new_life()
            return score, True, False
        self.lives = lives
        self.stack[..., :-1] = self.stack[..., 1:]
        self.stack[..., -1] = self._resize(screen)
        return score, False, False

    # -- state ------------------------------------------------------------------------
    def get_state(self) -> bytes:
        """Emulator (with its RNG), frame stack, no-op generator and lives as bytes."""
        head = json.dumps({"rng": self.rng.bit_generator.state, "lives": self.lives, "last": self.last}).encode()
        ale_state = self.ale.cloneState(include_rng=True).__getstate__()
        return struct.pack("<II", len(head), len(ale_state)) + head + ale_state + self.stack.tobytes()

    def set_state(self, blob: bytes) -> None:
        """Restore what ``get_state`` returned."""
        nh, na = struct.unpack_from("<II", blob)
        head = json.loads(blob[8:8 + nh])
        state = self._state_cls.__new__(self._state_cls)
        state.__setstate__(blob[8 + nh:8 + nh + na])
        self.ale.restoreState(state)
        self.rng.bit_generator.state = head["rng"]
        self.lives, self.last = int(head["lives"]), int(head["last"])
        self.stack[:] = np.frombuffer(blob[8 + nh + na:], np.uint8).reshape(self.stack.shape)


class AtariVecEnv:
    """``num_envs`` copies of one Atari game, with the ``train`` or the evaluation (``test``)
    protocol (module docstring). ``render=True`` adds the full-colour 210x160 screen as
    ``info[i]["rgb"]``. ``episode_stats()`` gives the unclipped score of the last step and
    where a whole game ended, for episode statistics under episodic life and clipping.
    """

    def __init__(self, cfg: Any, split: str, num_envs: int, seed: int, render: bool = False):
        if split not in ("train", "test"):
            raise ValueError(f"split {split!r}: expected 'train' or 'test'")
        ale_py, cv2 = import_ale(), import_cv2()
        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
        train = split == "train"
        self.num_envs, self.split, self.render = num_envs, split, render
        self.max_episode_steps = -(-cfg.max_episode_frames // FRAME_SKIP)  # agent steps in the longest game
        self.clip = train and cfg.clip_rewards
        rom = rom_path(ale_py, GAMES[cfg.game].rom)
        seeds = np.random.SeedSequence([int(seed) % 2**32, 0 if train else 1]).spawn(num_envs)
        self._games = [
            _Game(ale_py, cv2, rom, s, sticky=cfg.train_sticky_actions if train else cfg.sticky_actions,
                  max_frames=cfg.max_episode_frames, noop_max=cfg.noop_max if train else 0,
                  episodic_life=train and cfg.episodic_life, game_mode=cfg.game_mode, difficulty=cfg.difficulty)
            for s in seeds
        ]
        self._score = np.zeros(num_envs, np.float32)
        self._first = np.ones(num_envs, bool)
        self._over = np.ones(num_envs, bool)

    def observe(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reward (N,) float32: clipped to its sign on ``train``, obs (N, 84, 84, 4) uint8, first (N,) bool)."""
        reward = np.sign(self._score) if self.clip else self._score.copy()
        obs = np.stack([g.stack for g in self._games])
        return reward.astype(np.float32), obs, self._first.copy()

    def episode_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """(unclipped score of the last step (N,), game over (N,)): what episode statistics count."""
        return self._score.copy(), self._over.copy()

    def act(self, actions: np.ndarray) -> None:
        """Step every environment with its action (indices into the game's minimal action set)."""
        for i, (g, a) in enumerate(zip(self._games, np.asarray(actions))):
            self._score[i], self._first[i], self._over[i] = g.step(int(a))

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``act`` then ``observe``."""
        self.act(actions)
        return self.observe()

    def info(self) -> list[dict]:
        """Per-env info: ``prev_level_complete`` (always 0: Atari has no levels), ``lives``, and ``rgb`` when rendering."""
        out = []
        for g in self._games:
            d: dict = {"prev_level_complete": 0, "lives": g.ale.lives()}
            if self.render:
                d["rgb"] = g.ale.getScreenRGB()
            out.append(d)
        return out

    def get_state(self) -> list[bytes]:
        """Each environment's state, random state included."""
        return [g.get_state() for g in self._games]

    def set_state(self, states: list[bytes]) -> None:
        """Restore what ``get_state`` returned."""
        if len(states) != self.num_envs:
            raise ValueError(f"{len(states)} states for {self.num_envs} environments")
        for g, s in zip(self._games, states):
            g.set_state(s)

    def close(self) -> None:
        """Free the emulators."""
        self._games = []


def make_atari(cfg: Any, split: str = "train", num_envs: int | None = None, seed: int = 0,
               render: bool = False) -> AtariVecEnv:
    """An Atari vector env with the training (``train``) or evaluation (``test``) protocol (the family's ``make``)."""
    return AtariVecEnv(cfg, split, num_envs or cfg.num_envs, seed, render=render)
