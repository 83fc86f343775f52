"""Typed run configuration: TOML load/save, dotted ``--set`` overrides, validation.

Every key has a one-line description (``describe()``) that the docs and the CLI
show. This module touches neither torch nor the environments.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from rlsight.errors import ConfigError

# The 16 Procgen games and the distribution modes each one has (Cobbe et al. 2020).
GAMES = (
    "bigfish", "bossfight", "caveflyer", "chaser", "climber", "coinrun", "dodgeball",
    "fruitbot", "heist", "jumper", "leaper", "maze", "miner", "ninja", "plunder", "starpilot",
)
MODES = ("easy", "hard", "extreme", "memory", "exploration")
AUTOCAST = ("off", "bf16")
COMPILE = ("off", "default", "reduce-overhead", "max-autotune")
_EXTREME = {"chaser", "dodgeball", "leaper", "starpilot"}
_MEMORY = {"caveflyer", "dodgeball", "heist", "jumper", "maze", "miner"}
_EXPLORATION = {"caveflyer", "chaser", "climber", "dodgeball", "heist", "leaper", "maze", "ninja"}


def modes_for(game: str) -> tuple[str, ...]:
    """Distribution modes that ``game`` supports."""
    out = ["easy", "hard"]
    if game in _EXTREME:
        out.append("extreme")
    if game in _MEMORY:
        out.append("memory")
    if game in _EXPLORATION:
        out.append("exploration")
    return tuple(out)


def _doc(text: str, late: bool = False, **kw: Any) -> Any:
    """A field with its one-line description. ``late`` marks a key added after runs
    were already recorded: at its default it is left out of ``Config.hash()``, so
    those runs keep their hash and still resume."""
    return field(metadata={"doc": text, "late": late}, **kw)


@dataclass
class EnvConfig:
    game: str = _doc("Procgen game (original: game).", default="starpilot")
    distribution_mode: str = _doc("easy, hard, extreme, memory or exploration.", default="easy")
    num_levels: int = _doc("Training levels [start_level, start_level+num_levels); 0 = unbounded (original: num_levels).", default=200)
    start_level: int = _doc("First training level seed.", default=0)
    num_envs: int = _doc("Parallel training environments (original: num_envs).", default=64)
    use_backgrounds: bool = _doc("Draw game backgrounds (original: use_backgrounds).", default=True)
    restrict_themes: bool = _doc("Use one visual theme per asset kind.", default=False)
    use_monochrome_assets: bool = _doc("Draw assets as monochrome shapes.", default=False)
    test_start_level: int = _doc("First held-out level; -1 = start_level+num_levels, right after the training levels.", default=-1)
    test_num_levels: int = _doc("Number of held-out levels (disjoint from the training levels).", default=100_000)
    num_test_envs: int = _doc("Held-out environments stepped alongside training for the test curve; 0 = none.", default=16)
    penalize_on_death: bool = _doc("Subtract death_penalty when an episode ends without completing the level (original: penalize_on_death).", default=False)
    death_penalty: float = _doc("Size of that penalty, in raw reward units.", default=1.0)

    def test_levels(self) -> tuple[int, int]:
        """(start, count) of the held-out levels."""
        start = self.test_start_level if self.test_start_level >= 0 else self.start_level + self.num_levels
        return start, self.test_num_levels


@dataclass
class ModelConfig:
    encoder: str = _doc("Encoder name from the model registry: impala or nature (original: use_impala).", default="impala")
    n_features: int = _doc("Size of the encoder's output features (original: n_features).", default=256)
    impala_channels: list[int] = _doc("Channel widths of the IMPALA blocks.", default_factory=lambda: [16, 32, 32])


@dataclass
class PPOConfig:
    lr: float = _doc("Adam learning rate (original: lr).", default=5e-4)
    anneal_lr: bool = _doc("Decay the learning rate linearly to 0 over training.", default=False)
    adam_eps: float = _doc("Adam epsilon.", default=1e-5)
    gamma: float = _doc("Discount factor (original: gamma).", default=0.999)
    gae_lambda: float = _doc("GAE lambda.", default=0.95)
    num_steps: int = _doc("Rollout length per environment (original: num_steps).", default=256)
    num_epochs: int = _doc("Passes over each rollout (original: num_epochs).", default=3)
    batch_size: int = _doc("Minibatch size in samples; must divide num_envs*num_steps (original: batch_size).", default=2048)
    clip_eps: float = _doc("PPO ratio clip (original: eps).", default=0.2)
    use_clipped_value: bool = _doc("Clip the value change to [-value_clip_eps, value_clip_eps] (original: use_clipped_value).", default=True)
    value_clip_eps: float = _doc("Value clip range; -1 = same as clip_eps.", default=-1.0)
    value_coef: float = _doc("Value loss weight (original: value_coef).", default=0.5)
    entropy_coef: float = _doc("Entropy bonus weight (original: entropy_coef).", default=0.01)
    max_grad_norm: float = _doc("Gradient-norm clip (original: grad_eps).", default=0.5)
    normalize_advantages: bool = _doc("Normalise advantages per minibatch.", default=True)
    normalize_reward: bool = _doc("Scale rewards by a running std of the discounted return (original: normalize_reward).", default=True)
    reward_clip: float = _doc("Clip normalised rewards to [-reward_clip, reward_clip].", default=10.0)


@dataclass
class TrainConfig:
    total_steps: int = _doc("Environment steps to train for, all envs together (original: total_steps).", default=25_000_000)
    seed: int = _doc("Seed for torch, numpy and the environments.", default=0)
    device: str = _doc("auto, cpu, cuda or cuda:N.", default="auto")
    save_step: int = _doc("Checkpoint every this many environment steps (original: save_step).", default=500_000)
    max_minutes: float = _doc("Stop after the update that passes this much wall time and save the final model; 0 = no limit.", default=0.0)
    keep_checkpoints: int = _doc("Checkpoints kept on disk (the newest); 0 = all.", default=3)
    log_interval: int = _doc("Updates between console/plot refreshes.", default=1)
    torch_threads: int = _doc("CPU threads for torch; 0 = all cores.", default=0)
    update_chunk: int = _doc("Samples per forward/backward chunk in the update (gradient accumulation, same maths); 0 = auto: on CPU 64 for IMPALA, 256 for Nature-DQN; whole minibatch on GPU.", default=0)
    inference_chunk: int = _doc("Samples per forward pass during rollouts; 0 = all environments at once.", default=0)
    channels_last: bool = _doc("Store the weights channels-last too (the activations are channels-last already).", default=False)
    env_groups: int = _doc("Split the training environments into this many groups that take turns: the network "
                           "acts for one group while the others step (overlap); 1 = all together.", default=1, late=True)
    autocast: str = _doc("Mixed precision for the network's forward passes: off or bf16 (autocast); bf16 pays on "
                         "recent GPUs and on CPUs with native bfloat16 (avx512_bf16, amx_bf16), not on others.",
                         default="off", late=True)
    compile: str = _doc("torch.compile the network: off, default, reduce-overhead (CUDA graphs on a GPU) or "
                        "max-autotune; on CPU the update's chunks are then not spread over one thread per core.", default="off", late=True)


@dataclass
class Config:
    env: EnvConfig = field(default_factory=EnvConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # -- conversion ---------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """All keys as ``section.key`` -> value."""
        return {f"{s}.{k}": v for s, sec in self.to_dict().items() for k, v in sec.items()}

    def hash(self) -> str:
        """Short stable hash of every value (checkpoints record it)."""
        values = self.to_dict()
        for sec, cls in SECTIONS.items():
            for f in dataclasses.fields(cls):
                if f.metadata.get("late") and values[sec][f.name] == f.default:
                    del values[sec][f.name]
        blob = json.dumps(values, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_toml(self) -> str:
        lines = ["# rlsight run configuration: every key written out (see docs/config.md)."]
        for sec, values in self.to_dict().items():
            lines.append(f"\n[{sec}]")
            for k, v in values.items():
                lines.append(f"{k} = {toml_value(v)}")
        return "\n".join(lines) + "\n"


SECTIONS: dict[str, type] = {"env": EnvConfig, "model": ModelConfig, "ppo": PPOConfig, "train": TrainConfig}


def all_keys() -> list[str]:
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def describe() -> list[tuple[str, str, Any]]:
    """(dotted key, description, default) for every key."""
    default = Config().flat()
    return [
        (f"{s}.{f.name}", f.metadata.get("doc", ""), default[f"{s}.{f.name}"])
        for s, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
    ]


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def _unknown(key: str) -> ConfigError:
    close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else "; see docs/config.md for the keys"
    return ConfigError(f"unknown config key '{key}'{hint}")


def _coerce(key: str, value: Any, typ: Any) -> Any:
    """Convert ``value`` (from TOML or a --set string) to the field's type."""
    name = {int: "an integer", float: "a number", list[int]: "a list of integers"}.get(typ, "a value")
    if isinstance(value, str) and typ is not str:
        try:
            value = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            if typ is bool:
                raise ConfigError(f"{key} = {value!r}: expected true or false") from None
            raise ConfigError(f"{key} = {value!r}: expected {name}") from None
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r}: expected true or false")
        return value
    if typ is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} = {value!r}: expected an integer")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} = {value!r}: expected a number")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} = {value!r}: expected a string")
        return value
    if typ == list[int]:
        if not isinstance(value, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in value):
            raise ConfigError(f"{key} = {value!r}: expected a list of integers, e.g. [16, 32, 32]")
        return list(value)
    raise ConfigError(f"{key}: unsupported type {typ}")


def set_key(cfg: Config, key: str, value: Any) -> None:
    """Set one dotted key, converting and type-checking the value."""
    sec, _, name = key.partition(".")
    if sec not in SECTIONS or not name:
        raise _unknown(key)
    cls = SECTIONS[sec]
    hints = get_type_hints(cls)
    if name not in hints:
        raise _unknown(key)
    setattr(getattr(cfg, sec), name, _coerce(key, value, hints[name]))


def from_dict(data: dict[str, Any], base: Config | None = None) -> Config:
    """Build a config from nested ``{section: {key: value}}`` over ``base`` (defaults)."""
    cfg = copy.deepcopy(base) if base else Config()
    for sec, values in data.items():
        if sec not in SECTIONS:
            raise _unknown(sec)
        if not isinstance(values, dict):
            raise ConfigError(f"[{sec}] must be a table of keys")
        for k, v in values.items():
            set_key(cfg, f"{sec}.{k}", v)
    return cfg


def parse_override(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. ppo.lr=3e-4")
    k, v = text.split("=", 1)
    return k.strip(), v.strip()


def resolve_config_path(name: str | Path) -> Path:
    """A TOML file, or a preset name shipped in ``rlsight/presets/`` (e.g. ``cpu-quick``).

    Old preset names (``seed-best``) and old ``configs/NAME.toml`` paths resolve to
    the preset, with a note on stderr.
    """
    from rlsight import presets

    p = Path(name)
    if p.is_file():
        return p
    found = presets.find(str(name))
    if found is not None:
        return found
    raise ConfigError(f"config {str(name)!r} not found: give a TOML file or a preset ({', '.join(presets.names())})")


def load(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Load a TOML file (or preset name), apply ``key=value`` overrides, validate."""
    p = resolve_config_path(path)
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML ({e})") from None
    cfg = from_dict(data)
    for o in overrides or []:
        set_key(cfg, *parse_override(o))
    validate(cfg)
    return cfg


def loads(text: str) -> Config:
    cfg = from_dict(tomllib.loads(text))
    validate(cfg)
    return cfg


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


def validate(cfg: Config) -> None:
    """Raise ConfigError naming the first value that is out of range."""
    e, m, p, t = cfg.env, cfg.model, cfg.ppo, cfg.train
    _check(e.game in GAMES, f"env.game = {e.game!r}: unknown game; valid: {', '.join(GAMES)}")
    _check(e.distribution_mode in MODES, f"env.distribution_mode = {e.distribution_mode!r}: valid modes: {', '.join(MODES)}")
    _check(
        e.distribution_mode in modes_for(e.game),
        f"env.distribution_mode = {e.distribution_mode!r}: {e.game} has only {', '.join(modes_for(e.game))}",
    )
    _check(e.num_levels >= 0, f"env.num_levels = {e.num_levels}: must be >= 0 (0 = unbounded)")
    _check(e.start_level >= 0, f"env.start_level = {e.start_level}: must be >= 0")
    _check(e.num_envs >= 1, f"env.num_envs = {e.num_envs}: must be >= 1")
    _check(e.num_test_envs >= 0, f"env.num_test_envs = {e.num_test_envs}: must be >= 0")
    _check(e.test_num_levels >= 1, f"env.test_num_levels = {e.test_num_levels}: must be >= 1")
    ts, tn = e.test_levels()
    _check(ts + tn < 2**31 and e.start_level + e.num_levels < 2**31, "level seeds must stay below 2**31")
    if e.num_levels > 0:
        overlap = ts < e.start_level + e.num_levels and e.start_level < ts + tn
        _check(
            not overlap,
            f"env.test_start_level = {ts}: held-out levels [{ts}, {ts + tn}) overlap the training levels "
            f"[{e.start_level}, {e.start_level + e.num_levels}); use -1 or a start >= {e.start_level + e.num_levels}",
        )
    from rlsight.models.registry import ENCODERS  # light: no torch import at module level

    _check(m.encoder in ENCODERS, f"model.encoder = {m.encoder!r}: valid encoders: {', '.join(sorted(ENCODERS))}")
    _check(m.n_features >= 1, f"model.n_features = {m.n_features}: must be >= 1")
    _check(len(m.impala_channels) >= 1 and all(c >= 1 for c in m.impala_channels),
           f"model.impala_channels = {m.impala_channels}: need one or more positive widths")
    _check(p.lr > 0, f"ppo.lr = {p.lr}: must be > 0")
    _check(0 < p.gamma <= 1, f"ppo.gamma = {p.gamma}: must be in (0, 1]")
    _check(0 <= p.gae_lambda <= 1, f"ppo.gae_lambda = {p.gae_lambda}: must be in [0, 1]")
    _check(p.num_steps >= 1, f"ppo.num_steps = {p.num_steps}: must be >= 1")
    _check(p.num_epochs >= 1, f"ppo.num_epochs = {p.num_epochs}: must be >= 1")
    rollout = e.num_envs * p.num_steps
    _check(
        p.batch_size >= 1 and rollout % p.batch_size == 0,
        f"ppo.batch_size = {p.batch_size}: must divide env.num_envs*ppo.num_steps = {rollout} "
        f"(e.g. {', '.join(str(d) for d in _divisors(rollout))})",
    )
    _check(p.clip_eps > 0, f"ppo.clip_eps = {p.clip_eps}: must be > 0")
    _check(p.value_clip_eps == -1 or p.value_clip_eps > 0, f"ppo.value_clip_eps = {p.value_clip_eps}: must be > 0 or -1")
    _check(p.value_coef >= 0, f"ppo.value_coef = {p.value_coef}: must be >= 0")
    _check(p.entropy_coef >= 0, f"ppo.entropy_coef = {p.entropy_coef}: must be >= 0")
    _check(p.max_grad_norm > 0, f"ppo.max_grad_norm = {p.max_grad_norm}: must be > 0")
    _check(p.adam_eps > 0, f"ppo.adam_eps = {p.adam_eps}: must be > 0")
    _check(p.reward_clip > 0, f"ppo.reward_clip = {p.reward_clip}: must be > 0")
    _check(t.total_steps >= 1, f"train.total_steps = {t.total_steps}: must be >= 1")
    _check(t.save_step >= 1, f"train.save_step = {t.save_step}: must be >= 1")
    _check(t.max_minutes >= 0, f"train.max_minutes = {t.max_minutes}: must be >= 0 (0 = no limit)")
    _check(t.keep_checkpoints >= 0, f"train.keep_checkpoints = {t.keep_checkpoints}: must be >= 0")
    _check(t.log_interval >= 1, f"train.log_interval = {t.log_interval}: must be >= 1")
    _check(t.torch_threads >= 0, f"train.torch_threads = {t.torch_threads}: must be >= 0")
    _check(t.update_chunk >= 0, f"train.update_chunk = {t.update_chunk}: must be >= 0")
    _check(t.inference_chunk >= 0, f"train.inference_chunk = {t.inference_chunk}: must be >= 0")
    _check(1 <= t.env_groups <= e.num_envs,
           f"train.env_groups = {t.env_groups}: must be between 1 and env.num_envs = {e.num_envs}")
    _check(t.autocast in AUTOCAST, f"train.autocast = {t.autocast!r}: valid: {', '.join(AUTOCAST)}")
    _check(t.compile in COMPILE, f"train.compile = {t.compile!r}: valid: {', '.join(COMPILE)}")
    dev = t.device
    _check(
        dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit()),
        f"train.device = {dev!r}: valid: auto, cpu, cuda, cuda:N, mps",
    )


def _divisors(n: int, limit: int = 6) -> list[int]:
    ds = [d for d in range(64, n + 1) if n % d == 0]
    return ds[:limit] or [n]
