"""The state dataset: frames from real play on held-out levels, stored in the run.

Every faithfulness measure (and the feature tools) score methods and models on
the same frames: by default 64 held-out levels x 64 steps = 4,096 observations,
recorded by playing the run's own policy (actions sampled with a fixed seed),
one environment per level. Stored as ``RUN/explain/states.npz`` (one file,
written atomically; layout in docs/run-directory.md); recorded under a distribution
shift (``env_set``, as ``rlsight evaluate --set``) as ``states-<shift>.npz`` beside it.

    states = load_or_record_states("runs/a")   # records once, then reuses
    states.obs[:256], states.actions[:256]     # uint8 (N, 64, 64, 3), int (N,)
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rlsight import __version__
from rlsight.errors import RlsightError
from rlsight.models.sampling import sample_actions
from rlsight.runs import RunDir
from rlsight.runs.atomic import atomic_write_bytes
from rlsight.shift import apply_shift, setting_label

EXPLAIN_DIR = "explain"
STATES_FILE = "states.npz"
STATES_FORMAT = 1


@dataclass(frozen=True)
class StatesSpec:
    """How a state dataset is recorded: ``levels`` held-out levels (the first ones
    of the run's held-out range), ``steps`` steps on each, action-sampling seed."""

    levels: int = 64
    steps: int = 64
    seed: int = 0

    def validate(self) -> StatesSpec:
        """Raise a one-line RlsightError for a bad value; returns self."""
        if self.levels < 1 or self.steps < 1:
            raise RlsightError(f"state dataset of {self.levels} levels x {self.steps} steps: both must be >= 1")
        return self


DEFAULT_STATES = StatesSpec()


@dataclass
class States:
    """Recorded frames, flattened level-major (frame ``i`` is level ``levels[i]``,
    step ``steps[i]`` of playing it): obs (N, 64, 64, 3) uint8, actions (N,) the
    actions the policy took, levels (N,) level seeds, steps (N,), first (N,) episode
    starts, and ``meta`` (game, model step, encoder, spec, ...)."""

    obs: np.ndarray
    actions: np.ndarray
    levels: np.ndarray
    steps: np.ndarray
    first: np.ndarray
    meta: dict

    @property
    def game(self) -> str:
        """The game the frames come from (``meta["game"]``)."""
        return str(self.meta["game"])

    def __len__(self) -> int:
        return len(self.obs)

    def subset(self, n: int) -> States:
        """``n`` frames spread evenly over the dataset (every level, several steps each);
        the same ``n`` always gives the same frames."""
        if not 1 <= n <= len(self):
            raise RlsightError(f"{n} frames requested; the state dataset holds {len(self)} (need 1..{len(self)})")
        stride = len(self) / n
        idx = (np.arange(n) * stride + stride / 2).astype(np.int64)
        return States(self.obs[idx], self.actions[idx], self.levels[idx], self.steps[idx], self.first[idx],
                      {**self.meta, "subset_of": len(self)})


def states_path(run: RunDir, shift: dict | None = None) -> Path:
    """Where a run keeps its state dataset (``states-<shift>.npz`` for one recorded under
    a shift, ``{"game_mode": 1}``: see ``rlsight.shift.apply_shift``)."""
    name = f"states-{setting_label(shift)}.npz" if shift else STATES_FILE
    return run.path / EXPLAIN_DIR / name


def check_game(states_game: str, model_game: str, model_label: str = "the model") -> None:
    """A one-line error when frames come from another game than the model's."""
    if states_game != model_game:
        raise RlsightError(f"the frames are from {states_game} but {model_label} was trained on {model_game}; "
                           "score a model on frames of its own game")


def record_states(model: torch.nn.Module, env_cfg, spec: StatesSpec = DEFAULT_STATES) -> States:
    """Play ``model`` (sampled actions, seed ``spec.seed``) for ``spec.steps`` steps on
    each of the first ``spec.levels`` held-out levels of ``env_cfg``, one environment
    per level, all stepped together."""
    from rlsight.envs import make_env

    spec.validate()
    start, count = env_cfg.test_levels()
    if count < spec.levels:
        raise RlsightError(f"the run has {count} held-out levels; the state dataset needs {spec.levels}")
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(spec.seed)
    level_ids = [start + i for i in range(spec.levels)]
    envs = [make_env(dataclasses.replace(env_cfg, start_level=lv, num_levels=1), "train", 1, seed=spec.seed + i)
            for i, lv in enumerate(level_ids)]
    obs_t, act_t, first_t = [], [], []
    try:
        obs = np.concatenate([e.observe()[1] for e in envs])
        first = np.concatenate([e.observe()[2] for e in envs])
        for _ in range(spec.steps):
            with torch.inference_mode():
                logits, _ = model(torch.from_numpy(obs).to(device))
            a = sample_actions(logits.float().cpu(), generator=gen).numpy()
            obs_t.append(obs)
            act_t.append(a)
            first_t.append(first)
            out = [e.step(a[i:i + 1]) for i, e in enumerate(envs)]
            obs = np.concatenate([o for _, o, _ in out])
            first = np.concatenate([f for _, _, f in out])
    finally:
        for e in envs:
            e.close()

    def level_major(x: list[np.ndarray]) -> np.ndarray:  # (steps, levels, ...) -> (levels * steps, ...)
        a = np.stack(x)
        return a.swapaxes(0, 1).reshape(-1, *a.shape[2:])

    n = spec.levels * spec.steps
    meta = {"format": STATES_FORMAT, "game": env_cfg.game, "distribution_mode": env_cfg.distribution_mode,
            "levels": spec.levels, "steps": spec.steps, "seed": spec.seed, "first_level": start,
            "policy": "sampled", "frames": n}
    return States(level_major(obs_t), level_major(act_t).astype(np.int64),
                  np.repeat(np.asarray(level_ids, np.int64), spec.steps),
                  np.tile(np.arange(spec.steps, dtype=np.int64), spec.levels), level_major(first_t), meta)


def save_states(path: str | Path, states: States) -> Path:
    """Write one .npz (arrays + ``meta`` as JSON), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, obs=states.obs, actions=states.actions, levels=states.levels, steps=states.steps,
                        first=states.first, meta=np.asarray(json.dumps(states.meta, sort_keys=True)))
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_states(path: str | Path) -> States:
    """Read a dataset written by ``save_states``; a damaged file is named in a one-line error."""
    path = Path(path)
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            obs, actions, levels, steps, first = (z[k] for k in ("obs", "actions", "levels", "steps", "first"))
    except (OSError, KeyError, ValueError) as e:
        raise RlsightError(f"{path}: not a readable state dataset ({type(e).__name__}: {e})") from None
    if meta.get("format", 0) > STATES_FORMAT:
        raise RlsightError(f"{path}: state dataset format {meta.get('format')} is newer than this rlsight reads")
    return States(obs, actions, levels, steps, first, meta)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_or_record_states(run: str | Path | RunDir, spec: StatesSpec = DEFAULT_STATES, device: str = "cpu",
                          say: Callable[[str], None] = _say, env_set: Sequence[str] | None = None) -> States:
    """The run's state dataset: loaded when stored with this spec for the run's current
    model, otherwise recorded by playing the run's policy and stored (``say`` tells why:
    stderr by default, never silently). ``env_set`` records it under a distribution
    shift (``["env.game_mode=1"]``; the family's ``rlsight.shift.SHIFT_KEYS``), stored
    apart from the run's own; ``meta["shift"]`` says which."""
    from rlsight.runs.load import load_policy

    rd = run if isinstance(run, RunDir) else RunDir.open(run)
    spec.validate()
    model, cfg, step = load_policy(rd, device)
    cfg, shift = apply_shift(cfg, list(env_set or []), plays="train", levels_option=False)  # the frames are played as in training
    path = states_path(rd, shift)
    where = f" under {setting_label(shift)}" if shift else ""
    reason = f"{rd.name} has no state dataset{where}"
    if path.is_file():
        st = load_states(path)
        check_game(st.game, cfg.env.game, f"run {rd.name}")
        m = st.meta
        if m.get("model_step") != step:
            reason = f"the stored state dataset of {rd.name} was played by the model at step {m.get('model_step')}, " \
                     f"the run's model is at step {step}"
        elif (m.get("levels"), m.get("steps"), m.get("seed")) != (spec.levels, spec.steps, spec.seed):
            reason = (f"the stored state dataset of {rd.name} has {m.get('levels')} levels x {m.get('steps')} steps, "
                      f"seed {m.get('seed')}; {spec.levels} x {spec.steps}, seed {spec.seed} asked for")
        else:
            return st
    # Atari has no levels (a game per seed); a Procgen run with num_levels = 0 trained on every level
    held_out = not cfg.env.nothing_held_out()
    unit = ("held-out levels" if held_out else "training levels: the run trained on every level, none is held out") \
        if cfg.env.family == "procgen" else "games"
    say(f"{reason}: recording {spec.levels * spec.steps} frames ({spec.levels} {unit} x {spec.steps} "
        f"steps{where}, sampled actions, seed {spec.seed}) into {path}")
    t0 = time.perf_counter()
    st = record_states(model, cfg.env, spec)
    st.meta.update({"run": str(rd.path), "model_step": step, "encoder": cfg.model.encoder, "shift": shift,
                    "held_out": held_out,
                    "rlsight_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "seconds": round(time.perf_counter() - t0, 2)})
    save_states(path, st)
    return st
