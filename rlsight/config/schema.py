"""The run configuration, declared once: every key's type, default, allowed values,
cross-field rules and one-line description.

Loading, ``--set`` overrides, error messages (``rlsight.config.load``) and
docs/config.md (``rlsight config --markdown``) all read this declaration. The
sections are pydantic dataclasses: assigning an attribute does not validate,
``rlsight.config.validate`` does. Touches neither torch nor the environments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Annotated, Any, Literal, get_args

from annotated_types import Ge
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from rlsight.config.encoders import ENCODERS
from rlsight.errors import ConfigError

Game = Literal[
    "bigfish", "bossfight", "caveflyer", "chaser", "climber", "coinrun", "dodgeball",
    "fruitbot", "heist", "jumper", "leaper", "maze", "miner", "ninja", "plunder", "starpilot",
]
# Procgen's "exploration" mode is left out: it plays one fixed level per game (procgen refuses
# num_levels with it), which leaves no held-out levels to evaluate on.
Mode = Literal["easy", "hard", "extreme", "memory"]
Family = Literal["procgen", "atari"]
Autocast = Literal["off", "bf16"]
Compile = Literal["off", "default", "reduce-overhead", "max-autotune"]
Augment = Literal["off", "crop", "translate"]
AugmentMode = Literal["drac", "rad"]
AnnealOver = Literal["steps", "time"]
Init = Literal["pytorch", "orthogonal"]
WandbMode = Literal["offline", "online"]

# The 16 Procgen games and the distribution modes each one has (Cobbe et al. 2020).
GAMES: tuple[str, ...] = get_args(Game)
MODES: tuple[str, ...] = get_args(Mode)
FAMILIES: tuple[str, ...] = get_args(Family)
# The Atari games with published random and human scores (rlsight/envs/atari/games.py has
# their ROMs and the scores; a test checks the two lists agree).
ATARI_GAMES: tuple[str, ...] = (
    "Alien", "Assault", "Asterix", "Asteroids", "BeamRider", "Boxing", "Breakout", "Enduro", "Freeway",
    "MontezumaRevenge", "MsPacman", "Pong", "Qbert", "Seaquest", "SpaceInvaders",
)
# Each Atari game's flavours: its modes and difficulties (ALE's getAvailableModes and
# getAvailableDifficulties, ale-py 0.12.1; tests/test_atari_env.py checks them against the
# emulator). Mode 0 and difficulty 0 are ALE's defaults, in which the published scores were measured.
_ONE = (0,)
ATARI_FLAVOURS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "Alien": (tuple(range(4)), tuple(range(4))), "Assault": (_ONE, _ONE), "Asterix": (_ONE, _ONE),
    "Asteroids": ((*range(32), 128), (0, 3)), "BeamRider": (_ONE, (0, 1)), "Boxing": (_ONE, tuple(range(4))),
    "Breakout": (tuple(range(0, 48, 4)), (0, 1)), "Enduro": (_ONE, _ONE), "Freeway": (tuple(range(8)), (0, 1)),
    "MontezumaRevenge": (_ONE, _ONE), "MsPacman": (tuple(range(4)), _ONE), "Pong": ((0, 1), tuple(range(4))),
    "Qbert": (_ONE, (0, 1)), "Seaquest": (_ONE, (0, 1)), "SpaceInvaders": (tuple(range(16)), (0, 1)),
}


def flavour_name(game_mode: int = 0, difficulty: int = 0) -> str:
    """A flavour's short name, as Machado et al. 2018 write it: ``m1d0`` (game mode 1, difficulty 0)."""
    return f"m{game_mode}d{difficulty}"
# Keys that only one family reads: on a run of another family they must stay at their default.
PROCGEN_KEYS = ("distribution_mode", "num_levels", "start_level", "use_backgrounds", "restrict_themes",
                "use_monochrome_assets", "test_start_level", "test_num_levels", "penalize_on_death", "death_penalty")
ATARI_KEYS = ("noop_max", "episodic_life", "clip_rewards", "sticky_actions", "train_sticky_actions", "max_episode_frames",
              "game_mode", "difficulty")
AUTOCAST: tuple[str, ...] = get_args(Autocast)
COMPILE: tuple[str, ...] = get_args(Compile)
AUGMENT: tuple[str, ...] = get_args(Augment)
# Where training metrics go besides metrics.csv (always written): rlsight.runs.trackers.
LOGGERS: tuple[str, ...] = ("tensorboard", "wandb", "mlflow")
DEVICES = "auto, cpu, cuda, cuda:N, mps"
_EXTREME = {"chaser", "dodgeball", "leaper", "starpilot"}
_MEMORY = {"caveflyer", "dodgeball", "heist", "jumper", "maze", "miner"}

# The keys Config.check_trainable reads (a sweep that varies none of them checks its base config once).
TRAINABLE_KEYS = ("env.family", "env.num_levels", "env.num_test_envs", "env.start_level")
# Keys added after runs were already recorded: at their default they are left out of
# Config.hash(), so those runs keep their hash and still resume.
LATE_KEYS = frozenset({"env.family", "train.autocast", "train.compile", "train.loggers", "train.wandb_mode",
                       "train.mlflow_tracking_uri", "train.tracker_project", "model.init", *(f"env.{k}" for k in ATARI_KEYS),
                       *(f"ppo.{k}" for k in ("anneal_over", "augment", "augment_pad", "augment_mode", "drac_coef",
                                              "ppg_policy_phases", "ppg_aux_epochs", "ppg_clone_coef"))})
# Keys that were removed (measured as useless, BENCHMARKS.md): an old run's config that still
# has one loads with a warning. Value: (its old default, whether it was a late key).
REMOVED_KEYS: dict[str, tuple[Any, bool]] = {
    "train.inference_chunk": (0, False),
    "train.channels_last": (False, False),
    "train.env_groups": (1, True),
}


def modes_for(game: str) -> tuple[str, ...]:
    """Distribution modes that ``game`` supports."""
    out = ["easy", "hard"]
    if game in _EXTREME:
        out.append("extreme")
    if game in _MEMORY:
        out.append("memory")
    return tuple(out)


# -- value types: what TOML gives, checked strictly (no "1" -> True, no 2.5 -> 2) ------------


def _integral(v: Any) -> Any:
    """TOML's ``2.0`` where an integer is expected is ``2``."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _widen(v: Any) -> Any:
    """An integer where a number is expected is that number (``1`` -> ``1.0``)."""
    return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


Int = Annotated[int, BeforeValidator(_integral), Strict()]
Float = Annotated[float, BeforeValidator(_widen), Strict()]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]


# the MLflow stores a tracking URI may name (MLflow 3 keeps plain paths and file: for reading only)
MLFLOW_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")


def _mlflow_uri_ok(uri: str) -> bool:
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""
    return uri == "" or scheme in MLFLOW_SCHEMES


def rule(ok: Callable[[Any], bool], why: str | Callable[[], str]) -> AfterValidator:
    """A check on one value; ``why`` (text, or a function giving it) says what is allowed."""

    def check(v: Any) -> Any:
        if not ok(v):
            raise PydanticCustomError("rlsight", "{why}", {"why": why() if callable(why) else why, "value": v})
        return v

    return AfterValidator(check)


def fail(message: str) -> PydanticCustomError:
    """A cross-field error whose ``message`` names the key(s) itself."""
    return PydanticCustomError("rlsight_line", "{message}", {"message": message})


def _device_ok(d: str) -> bool:
    return d in ("auto", "cpu", "cuda", "mps") or (d.startswith("cuda:") and d[5:].isdigit())


def _names(v: Any) -> Any:
    """``"tensorboard,wandb"`` (a ``--set`` value that is not TOML) -> ``["tensorboard", "wandb"]``."""
    return [x.strip() for x in v.split(",") if x.strip()] if isinstance(v, str) else v


def _loggers_ok(v: list[str]) -> bool:
    return all(x in LOGGERS for x in v) and len(set(v)) == len(v)


def _encoders() -> str:
    return "valid encoders: " + ", ".join(sorted(ENCODERS))


SECTION = ConfigDict(extra="forbid", allow_inf_nan=False)  # inf and nan are never a setting


@dataclass(config=SECTION)
class EnvConfig:
    """[env]: which environment, which levels, how many copies."""

    family: Family = Field(default="procgen", description="Environment family: procgen or atari (docs/environments.md).")
    game: Str = Field(default="starpilot", description="Game of the family: a Procgen game (original: game), or an Atari game for env.family = atari.",
                      json_schema_extra={"allowed": f"procgen: {', '.join(GAMES)}; atari: {', '.join(ATARI_GAMES)}"})
    distribution_mode: Mode = Field(default="easy", description="Procgen distribution mode; each game has easy and hard, some also the others.")
    num_levels: Int = Field(default=200, ge=0, description="Training levels [start_level, start_level+num_levels); 0 = unbounded (original: num_levels).")
    start_level: Int = Field(default=0, ge=0, description="First training level seed.")
    num_envs: Int = Field(default=64, ge=1, description="Parallel training environments (original: num_envs).")
    use_backgrounds: Bool = Field(default=True, description="Draw game backgrounds (original: use_backgrounds).")
    restrict_themes: Bool = Field(default=False, description="Use one visual theme per asset kind.")
    use_monochrome_assets: Bool = Field(default=False, description="Draw assets as monochrome shapes.")
    test_start_level: Int = Field(default=-1, description="First held-out level; -1 = start_level+num_levels, right after the training levels.")
    test_num_levels: Int = Field(default=100_000, ge=1, description="Number of held-out levels (disjoint from the training levels).")
    num_test_envs: Int = Field(default=16, ge=0, description="Held-out environments stepped alongside training for the test curve; 0 = none.")
    penalize_on_death: Bool = Field(default=False, description="Subtract death_penalty when an episode ends without completing the level (original: penalize_on_death).")
    death_penalty: Float = Field(default=1.0, description="Size of that penalty, in raw reward units.")
    noop_max: Int = Field(default=30, ge=0, description="Atari, training: each game starts with 1..noop_max random no-op frames; 0 = none.")
    episodic_life: Bool = Field(default=True, description="Atari, training: a lost life ends the episode for learning (statistics count whole games).")
    clip_rewards: Bool = Field(default=True, description="Atari, training: rewards clipped to their sign (statistics and evaluation use the score).")
    sticky_actions: Float = Field(default=0.25, ge=0, le=1, description="Atari, evaluation and held-out curve: probability that the previous action repeats (Machado et al. 2018).")
    train_sticky_actions: Float = Field(default=0.0, ge=0, le=1, description="Atari, training: the same for the training envs; 0 = none, as CleanRL "
                                        "(Machado et al. 2018 train with 0.25, so that the policy is robust to them at evaluation).")
    max_episode_frames: Int = Field(default=108_000, ge=1, description="Atari: a game ends after this many emulator frames (108000 = 30 minutes of play).")
    game_mode: Int = Field(default=0, ge=0, description="Atari: the game mode (ALE setMode; each game has its own, "
                           "docs/environments.md). 0, ALE's default, is the one published scores were measured in.")
    difficulty: Int = Field(default=0, ge=0, description="Atari: the difficulty switch (ALE setDifficulty); 0 is ALE's default.")

    def test_levels(self) -> tuple[int, int]:
        """(start, count) of the held-out levels."""
        start = self.test_start_level if self.test_start_level >= 0 else self.start_level + self.num_levels
        return start, self.test_num_levels

    def nothing_held_out(self) -> bool:
        """Procgen with ``num_levels = 0`` trains on every level seed: it then draws seeds from
        all of [0, 2**31) and ignores ``start_level``, so no level is held out. (Not a validation
        rule, so that runs made before it still open; training and evaluation refuse it.)"""
        return self.family == "procgen" and self.num_levels == 0


@dataclass(config=SECTION)
class ModelConfig:
    """[model]: the network."""

    encoder: Annotated[Str, rule(lambda e: e in ENCODERS, _encoders)] = Field(
        default="impala", description="Encoder name from the model registry: impala or nature (original: use_impala).")
    n_features: Int = Field(default=256, ge=1, description="Size of the encoder's output features (original: n_features).")
    impala_channels: list[Annotated[Int, Ge(1)]] = Field(
        default_factory=lambda: [16, 32, 32], min_length=1, description="Channel widths of the IMPALA blocks.",
        json_schema_extra={"allowed": "one or more integers >= 1"})
    init: Init = Field(default="pytorch", description="Weight initialisation: pytorch (each layer's default, as the original) or "
                       "orthogonal (every layer orthogonal with gain sqrt(2), the policy head 0.01, the value heads 1, biases 0: "
                       "CleanRL's ppo_atari.py for Nature-DQN; for IMPALA no published scheme, CleanRL's ppo_procgen.py "
                       "initialises only the heads).")


@dataclass(config=SECTION)
class PPOConfig:
    """[ppo]: the PPO update."""

    lr: Float = Field(default=5e-4, gt=0, description="Adam learning rate (original: lr).")
    anneal_lr: Bool = Field(default=False, description="Decay the learning rate linearly to 0 over training.")
    anneal_over: AnnealOver = Field(default="steps", description="What anneal_lr decays over: steps (train.total_steps) or time "
                                    "(train.max_minutes of wall time, so that a slower machine still ends at 0; not reproducible step for step).")
    adam_eps: Float = Field(default=1e-5, gt=0, description="Adam epsilon.")
    gamma: Float = Field(default=0.999, gt=0, le=1, description="Discount factor (original: gamma).")
    gae_lambda: Float = Field(default=0.95, ge=0, le=1, description="GAE lambda.")
    num_steps: Int = Field(default=256, ge=1, description="Rollout length per environment (original: num_steps).")
    num_epochs: Int = Field(default=3, ge=1, description="Passes over each rollout (original: num_epochs).")
    batch_size: Int = Field(default=2048, ge=1, description="Minibatch size in samples; must divide num_envs*num_steps (original: batch_size).")
    clip_eps: Float = Field(default=0.2, gt=0, description="PPO ratio clip (original: eps).")
    use_clipped_value: Bool = Field(default=True, description="Clip the value change to [-value_clip_eps, value_clip_eps] (original: use_clipped_value).")
    value_clip_eps: Annotated[Float, rule(lambda v: v == -1 or v > 0, "must be > 0 or -1")] = Field(
        default=-1.0, description="Value clip range; -1 = same as clip_eps.", json_schema_extra={"allowed": "> 0, or -1"})
    value_coef: Float = Field(default=0.5, ge=0, description="Value loss weight (original: value_coef).")
    entropy_coef: Float = Field(default=0.01, ge=0, description="Entropy bonus weight (original: entropy_coef).")
    max_grad_norm: Float = Field(default=0.5, gt=0, description="Gradient-norm clip (original: grad_eps).")
    normalize_advantages: Bool = Field(default=True, description="Normalise advantages per minibatch.")
    normalize_reward: Bool = Field(default=True, description="Scale rewards by a running std of the discounted return (original: normalize_reward).")
    reward_clip: Float = Field(default=10.0, gt=0, description="Clip normalised rewards to [-reward_clip, reward_clip].")
    augment: Augment = Field(default="off", description="Data augmentation of the update's frames: off, crop (random shift by up to "
                             "augment_pad pixels, edges repeated) or translate (the same shift, the uncovered border black).")
    augment_pad: Int = Field(default=4, ge=1, description="Largest shift of the augmentation, in pixels, each axis.")
    augment_mode: AugmentMode = Field(default="drac", description="How augmented frames are used: drac (Raileanu et al. 2021: PPO on the "
                                      "frames as seen, plus drac_coef times a KL and a squared error that pull the augmented policy "
                                      "and value to the un-augmented ones) or rad (PPO on augmented frames only).")
    drac_coef: Float = Field(default=0.1, ge=0, description="DrAC's regulariser weight alpha_r (augment_mode = drac).")
    ppg_policy_phases: Int = Field(default=0, ge=0, description="PPG (Cobbe et al. 2021): an auxiliary phase after every this many "
                                   "updates (N_pi), distilling the value into an auxiliary value head; 0 = off. Checkpoints then "
                                   "hold up to N_pi rollouts of frames.")
    ppg_aux_epochs: Int = Field(default=6, ge=1, description="PPG: epochs over the stored rollouts in each auxiliary phase (E_aux).")
    ppg_clone_coef: Float = Field(default=1.0, ge=0, description="PPG: weight of the behavioural-cloning KL that keeps the policy in the "
                                  "auxiliary phase (beta_clone).")


@dataclass(config=SECTION)
class TrainConfig:
    """[train]: length, seed, device, checkpoints and speed settings."""

    total_steps: Int = Field(default=25_000_000, ge=1, description="Environment steps to train for, all envs together (original: total_steps).")
    seed: Int = Field(default=0, description="Seed for torch, numpy and the environments.")
    device: Annotated[Str, rule(_device_ok, f"valid: {DEVICES}")] = Field(
        default="auto", description="Where the network runs; auto = a CUDA GPU when torch sees one, else the CPU.", json_schema_extra={"allowed": DEVICES})
    save_step: Int = Field(default=500_000, ge=1, description="Checkpoint every this many environment steps (original: save_step).")
    max_minutes: Float = Field(default=0.0, ge=0, description="Stop after the update that passes this much wall time and save the final model; 0 = no limit.")
    keep_checkpoints: Int = Field(default=3, ge=0, description="Checkpoints kept on disk (the newest); 0 = all.")
    log_interval: Int = Field(default=1, ge=1, description="Updates between console/plot refreshes.")
    torch_threads: Int = Field(default=0, ge=0, description="CPU threads for torch; 0 = all cores.")
    update_chunk: Int = Field(default=0, ge=0, description="Samples per forward/backward chunk in the update (gradient accumulation, same maths); 0 = auto: on CPU 64 for IMPALA, 256 for Nature-DQN; whole minibatch on GPU.")
    autocast: Autocast = Field(default="off", description="Mixed precision for the network's forward passes: off or bf16 (autocast); bf16 pays on "
                               "recent GPUs and on CPUs with native bfloat16 (avx512_bf16, amx_bf16), not on others.")
    loggers: Annotated[list[Str], BeforeValidator(_names), rule(_loggers_ok, f"valid loggers: {', '.join(LOGGERS)}, each at most once")] = Field(
        default_factory=lambda: ["tensorboard"], description="Where metrics go besides metrics.csv (always written): any of tensorboard "
        "(RUN/tb), wandb, mlflow; wandb and mlflow are extras (pip install rlsight[wandb], rlsight[mlflow]) and also get the "
        "config, evaluation results and saliency videos saved in the run.",
        json_schema_extra={"allowed": f"a list of {', '.join(LOGGERS)} (or comma-separated text), may be empty"})
    wandb_mode: WandbMode = Field(default="offline", description="wandb mode: offline (files under RUN/wandb; upload later with "
                                  "`wandb sync RUN/wandb/offline-run-*`) or online.")
    mlflow_tracking_uri: Annotated[Str, rule(_mlflow_uri_ok, f"give a URI of {', '.join(MLFLOW_SCHEMES)} "
                                             "(sqlite:///PATH.db, http://HOST:PORT), or empty for RUN/mlruns")] = Field(
        default="", description="MLflow tracking URI (sqlite:///PATH.db, http://HOST:PORT, ...); "
                                     "empty = a local store in RUN/mlruns (sqlite:///RUN/mlruns/mlflow.db, artifacts beside it).")
    tracker_project: Str = Field(default="rlsight", description="wandb project and MLflow experiment name that runs are logged under.")
    compile: Compile = Field(default="off", description="torch.compile the network: off, default, reduce-overhead (CUDA graphs on a GPU) or "
                             "max-autotune; on CPU the update's chunks are then not spread over one thread per core.")


SECTIONS: dict[str, type] = {"env": EnvConfig, "model": ModelConfig, "ppo": PPOConfig, "train": TrainConfig}


@dataclass(config=SECTION)
class Config:
    """A whole run configuration: four sections of typed keys (docs/config.md)."""

    env: EnvConfig = field(default_factory=EnvConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # Removed keys an old run's config still had, with their values: kept only so that
    # hash() is the one the run recorded. Not written by to_toml, not compared.
    removed: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    # Cross-field rules live here, not on the sections, so that a section can be copied with
    # a few keys changed (dataclasses.replace) without checking rules that span keys.
    @model_validator(mode="after")
    def _family_keys(self) -> Config:
        import difflib

        e = self.env
        games, foreign = (ATARI_GAMES, PROCGEN_KEYS) if e.family == "atari" else (GAMES, ATARI_KEYS)
        if e.game not in games:
            near = difflib.get_close_matches(e.game, games, n=3, cutoff=0.3) or difflib.get_close_matches(
                e.game.lower(), [g.lower() for g in games], n=3, cutoff=0.3)
            near = [next(g for g in games if g.lower() == n.lower()) for n in near]
            hint = f"nearest: {', '.join(near)}" if near else f"valid: {', '.join(games)}"
            other, other_games = ("procgen", GAMES) if e.family == "atari" else ("atari", ATARI_GAMES)
            match = [g for g in other_games if g.lower() == e.game.lower()]
            if match:
                hint = f"{match[0]} is a game of env.family = {other!r}; valid: {', '.join(games)}"
            raise fail(f"env.game = {e.game!r}: not a game of env.family = {e.family!r}; {hint}")
        defaults = EnvConfig()
        for key in foreign:
            if getattr(e, key) != getattr(defaults, key):
                other = "a Procgen" if e.family == "atari" else "an Atari"
                raise fail(f"env.{key} = {getattr(e, key)!r}: {other} key, not used with env.family = {e.family!r}; "
                           "remove it from the config")
        if e.family == "atari":
            modes, difficulties = ATARI_FLAVOURS[e.game]
            for key, value, valid, what in (("game_mode", e.game_mode, modes, "modes"),
                                            ("difficulty", e.difficulty, difficulties, "difficulties")):
                if value not in valid:
                    raise fail(f"env.{key} = {value}: {e.game} has the {what} {', '.join(map(str, valid))}")
        return self

    def check_trainable(self) -> None:
        """A one-line ConfigError where training would mislead (not a validation rule, so that
        runs made before it still open): Procgen with ``env.num_levels = 0`` plays every level
        seed, whatever ``env.start_level``, so it has no held-out levels for the held-out curve."""
        e = self.env
        if not e.nothing_held_out() or (e.num_test_envs == 0 and e.start_level == 0):
            return
        problems = ([f"env.start_level = {e.start_level} is ignored"] if e.start_level > 0 else []) + \
            (["no level is held out for the held-out curve"] if e.num_test_envs > 0 else [])
        fixes = " and ".join((["env.num_test_envs = 0"] if e.num_test_envs > 0 else [])
                             + (["env.start_level = 0"] if e.start_level > 0 else []))
        raise ConfigError(f"env.num_levels = 0: procgen trains on every level seed, so {' and '.join(problems)}; "
                          f"set a finite env.num_levels, or {fixes}")

    @model_validator(mode="after")
    def _levels(self) -> Config:
        e = self.env
        if e.family == "atari":
            return self
        modes = modes_for(e.game)
        if e.distribution_mode not in modes:
            raise fail(f"env.distribution_mode = {e.distribution_mode!r}: {e.game} has only {', '.join(modes)}")
        ts, tn = e.test_levels()
        train_end = e.start_level + e.num_levels
        if ts + tn >= 2**31 or train_end >= 2**31:
            raise fail("level seeds must stay below 2**31")
        if e.num_levels > 0 and ts < train_end and e.start_level < ts + tn:
            raise fail(f"env.test_start_level = {ts}: held-out levels [{ts}, {ts + tn}) overlap the training levels "
                       f"[{e.start_level}, {train_end}); use -1 or a start >= {train_end}")
        return self

    @model_validator(mode="after")
    def _anneal_over_time(self) -> Config:
        if self.ppo.anneal_over == "time":
            if not self.ppo.anneal_lr:
                raise fail("ppo.anneal_over = 'time': has no effect without ppo.anneal_lr = true")
            if self.train.max_minutes <= 0:
                raise fail(f"ppo.anneal_over = 'time': needs train.max_minutes > 0 (the time to decay over), "
                           f"got {self.train.max_minutes}")
        return self

    @model_validator(mode="after")
    def _batch_divides_rollout(self) -> Config:
        rollout = self.env.num_envs * self.ppo.num_steps
        if rollout % self.ppo.batch_size:
            divisors = [d for d in range(64, rollout + 1) if rollout % d == 0][:6] or [rollout]
            raise fail(f"ppo.batch_size = {self.ppo.batch_size}: must divide env.num_envs*ppo.num_steps = {rollout} "
                       f"(e.g. {', '.join(map(str, divisors))})")
        return self

    # -- views ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{section: {key: value}}`` for every key."""
        import dataclasses

        return {sec: dataclasses.asdict(getattr(self, sec)) for sec in SECTIONS}

    def flat(self) -> dict[str, Any]:
        """All keys as ``section.key`` -> value."""
        return {f"{s}.{k}": v for s, sec in self.to_dict().items() for k, v in sec.items()}

    def hash(self) -> str:
        """Short stable hash of every value (checkpoints record it). Late keys at their
        default are left out and removed keys put back, so older runs keep their hash."""
        import hashlib
        import json

        values = self.to_dict()
        defaults = Config().flat()
        for key in LATE_KEYS:
            sec, name = key.split(".")
            if values[sec][name] == defaults[key]:
                del values[sec][name]
        for key, (default, late) in REMOVED_KEYS.items():
            sec, name = key.split(".")
            v = self.removed.get(key, default)
            if not (late and v == default):
                values[sec][name] = v
        blob = json.dumps(values, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_toml(self) -> str:
        """Every key written out, as RUN/config.toml holds it."""
        lines = ["# rlsight run configuration: every key written out (see docs/config.md)."]
        for sec, values in self.to_dict().items():
            lines.append(f"\n[{sec}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"


def toml_value(v: Any) -> str:
    """``v`` written as a TOML value."""
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


__all__ = [
    "AUGMENT", "ATARI_GAMES", "ATARI_KEYS", "AUTOCAST", "COMPILE", "Config", "EnvConfig", "FAMILIES", "GAMES", "LATE_KEYS",
    "LOGGERS", "MODES", "ModelConfig", "PROCGEN_KEYS",
    "PPOConfig", "REMOVED_KEYS", "SECTIONS", "TrainConfig", "modes_for", "toml_value",
]
