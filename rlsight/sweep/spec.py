"""The sweep file: parsing and validation, before anything starts.

A sweep file is TOML (format in docs/sweeps.md). ``load_sweep(path)`` returns a
``SweepSpec`` or raises ``SweepError`` naming the bad entry.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsight import config as C
from rlsight.errors import ConfigError, RlsightError

STRATEGIES = ("one-at-a-time", "grid", "random", "tpe")
PARAM_TYPES = ("choice", "uniform", "log-uniform", "int")
PRUNERS = ("none", "median", "successive-halving")
DIRECTIONS = ("maximize", "minimize")
TOP_KEYS = {
    "name", "base", "set", "strategy", "order", "seeds", "trials", "direction", "sampler_seed",
    "params", "objective", "pruner", "storage", "local", "slurm", "train_fn",
}
# Keys that define what is searched: a sweep directory refuses a file that changes them.
IDENTITY_KEYS = ("base", "set", "strategy", "order", "seeds", "direction", "params", "objective", "pruner", "train_fn")


class SweepError(RlsightError):
    """A mistake in a sweep file or a sweep directory."""


def _unknown(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> SweepError:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f"; valid: {', '.join(valid)}"
    return SweepError(f"unknown {kind} '{name}'{hint}")


def _check_keys(where: str, table: dict, valid: set[str]) -> None:
    for k in table:
        if k not in valid:
            raise _unknown(f"key in {where}", k, sorted(valid))


@dataclass
class Param:
    """One searched config key: listed values, or a uniform / log-uniform / integer range."""

    name: str
    type: str
    values: list[Any] = field(default_factory=list)
    low: float | int | None = None
    high: float | int | None = None
    step: int = 1

    @property
    def discrete(self) -> bool:
        return self.type in ("choice", "int")

    def grid_values(self) -> list[Any]:
        """Every value, for strategies that enumerate (grid, one-at-a-time)."""
        if self.type == "choice":
            return list(self.values)
        if self.type == "int":
            return list(range(int(self.low), int(self.high) + 1, self.step))
        raise SweepError(f"params.{self.name}: a {self.type} range has no finite list of values")

    def distribution(self, extra: Any = None):
        """The Optuna distribution; ``extra`` adds a value to a choice list (one-at-a-time's start)."""
        import optuna.distributions as D

        if self.type == "choice":
            choices = list(self.values) + ([extra] if extra is not None and extra not in self.values else [])
            return D.CategoricalDistribution(choices)
        if self.type == "int":
            lo, hi = int(self.low), int(self.high)
            if extra is not None:
                lo, hi = min(lo, int(extra)), max(hi, int(extra))
                return D.IntDistribution(lo, hi)
            return D.IntDistribution(lo, hi, step=self.step)
        return D.FloatDistribution(float(self.low), float(self.high), log=self.type == "log-uniform")


@dataclass
class Objective:
    """What a trial scores: a metrics.csv column averaged over the last part of
    training, or a final evaluation of the trained model."""

    metric: str = "test_return"
    last_fraction: float = 0.25
    evaluate: bool = False
    split: str = "test"
    episodes: int = 256


@dataclass
class PrunerSpec:
    kind: str = "none"
    startup_trials: int = 3
    warmup_steps: int = 0
    min_steps: int | str = "auto"
    reduction_factor: int = 3
    metric: str = ""  # metrics.csv column reported as the intermediate value (default: objective.metric)


@dataclass
class LocalSpec:
    workers: int = 1
    gpus: list[int] | None = None  # None: every GPU CUDA shows; [] : none


@dataclass
class SlurmSpec:
    partition: str | None = None
    time_min: int = 60
    cpus_per_task: int = 1
    gpus_per_task: int = 0
    mem_gb: float = 4.0
    array_parallelism: int = 8
    max_requeues: int = 3
    account: str | None = None
    qos: str | None = None
    setup: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepSpec:
    """A validated sweep."""

    name: str
    base: Any  # rlsight.config.Config: the base config with the ``set`` overrides applied
    base_source: str
    strategy: str
    params: dict[str, Param]
    order: list[str]
    seeds: list[int]
    trials: int
    direction: str
    sampler_seed: int
    objective: Objective
    pruner: PrunerSpec
    storage: str
    local: LocalSpec
    slurm: SlurmSpec
    train_fn: str
    raw: dict = field(repr=False, default_factory=dict)

    def trial_config(self, params: dict[str, Any], seed: int | None = None):
        """The base config with ``params`` (and a seed) applied, validated."""
        cfg = copy.deepcopy(self.base)
        for k, v in params.items():
            C.set_key(cfg, k, v)
        if seed is not None:
            cfg.train.seed = seed
        C.validate(cfg)
        return cfg

    def start_values(self) -> dict[str, Any]:
        """One-at-a-time's starting point: each parameter's value in the base config."""
        flat = self.base.flat()
        return {k: flat[k] for k in self.params}

    def grid(self) -> list[dict[str, Any]]:
        names = list(self.params)
        return [dict(zip(names, combo)) for combo in itertools.product(*(self.params[n].grid_values() for n in names))]

    def identity(self) -> dict:
        return {k: self.raw.get(k) for k in IDENTITY_KEYS}


# -- parsing -------------------------------------------------------------------------


def _flatten(table: dict, prefix: str = "", leaf=None) -> dict[str, Any]:
    """``{"ppo": {"lr": x}}`` and ``{"ppo.lr": x}`` both become ``{"ppo.lr": x}``."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and not (leaf and leaf(v)):
            out.update(_flatten(v, key + ".", leaf))
        else:
            out[key] = v
    return out


def _is_param_spec(v: dict) -> bool:
    return any(k in v for k in ("values", "low", "high", "type"))


def _number(where: str, v: Any, integer: bool = False) -> float | int:
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok:
        raise SweepError(f"{where} = {v!r}: expected {'an integer' if integer else 'a number'}")
    return v


def _check_key(name: str) -> None:
    if name not in C.all_keys():
        raise _unknown("parameter", name, C.all_keys())


def parse_param(name: str, raw: Any, base) -> Param:
    where = f"params.{name}"
    _check_key(name)
    if isinstance(raw, list):
        raw = {"values": raw}
    if not isinstance(raw, dict):
        raise SweepError(f"{where}: give a list of values, or a table like {{ type = \"log-uniform\", low = 1e-5, high = 1e-3 }}")
    _check_keys(where, raw, {"values", "type", "low", "high", "step"})
    kind = raw.get("type", "choice" if "values" in raw else "uniform")
    if kind not in PARAM_TYPES:
        raise _unknown(f"type in {where}", str(kind), PARAM_TYPES)
    if kind == "choice":
        values = raw.get("values")
        if not isinstance(values, list):
            raise SweepError(f"{where}: a choice needs values = [...]")
        if not values:
            raise SweepError(f"{where}: values is empty; list at least one value")
        if "low" in raw or "high" in raw:
            raise SweepError(f"{where}: give either values or low/high, not both")
        coerced = []
        for v in values:
            if isinstance(v, (list, dict)):
                raise SweepError(f"{where}: value {v!r}: list-valued keys cannot be swept; give scalar values")
            coerced.append(_coerce(name, v, base))
        if len(set(map(repr, coerced))) != len(coerced):
            raise SweepError(f"{where}: values {values} list the same value twice")
        return Param(name, kind, values=coerced)
    if "values" in raw:
        raise SweepError(f"{where}: type = {kind!r} takes low and high, not values")
    if "low" not in raw or "high" not in raw:
        raise SweepError(f"{where}: a {kind} range needs low and high")
    integer = kind == "int"
    low, high = _number(f"{where}.low", raw["low"], integer), _number(f"{where}.high", raw["high"], integer)
    if not low < high:
        raise SweepError(f"{where}: low = {low} must be below high = {high}")
    if kind == "log-uniform" and low <= 0:
        raise SweepError(f"{where}: a log-uniform range needs low > 0 (got {low})")
    step = _number(f"{where}.step", raw.get("step", 1), True)
    if step < 1 or not integer and "step" in raw:
        raise SweepError(f"{where}: step = {step}: only integer ranges take a step, and it must be >= 1")
    for v in (low, high):
        _coerce(name, v, base)
    return Param(name, kind, low=low, high=high, step=int(step))


def _coerce(name: str, value: Any, base) -> Any:
    """Type-check ``value`` for config key ``name``; returns it converted."""
    cfg = copy.deepcopy(base)
    try:
        C.set_key(cfg, name, value)
    except ConfigError as e:
        raise SweepError(f"params.{name}: {e}") from None
    return cfg.flat()[name]


def _parse_objective(raw: Any) -> Objective:
    from rlsight.runs.rundir import METRIC_COLUMNS

    raw = raw or {}
    if not isinstance(raw, dict):
        raise SweepError("[objective] must be a table")
    _check_keys("[objective]", raw, {"metric", "last_fraction", "evaluate"})
    o = Objective()
    o.metric = raw.get("metric", o.metric)
    if o.metric not in METRIC_COLUMNS:
        raise _unknown("objective.metric", str(o.metric), METRIC_COLUMNS)
    o.last_fraction = float(_number("objective.last_fraction", raw.get("last_fraction", o.last_fraction)))
    if not 0 < o.last_fraction <= 1:
        raise SweepError(f"objective.last_fraction = {o.last_fraction}: must be in (0, 1]")
    ev = raw.get("evaluate")
    if ev is not None:
        if not isinstance(ev, dict):
            raise SweepError("objective.evaluate: give a table, e.g. { split = \"test\", episodes = 256 }")
        _check_keys("objective.evaluate", ev, {"split", "episodes"})
        o.evaluate = True
        o.split = ev.get("split", "test")
        if o.split not in ("train", "test"):
            raise SweepError(f"objective.evaluate.split = {o.split!r}: valid: train, test")
        o.episodes = int(_number("objective.evaluate.episodes", ev.get("episodes", o.episodes), True))
        if o.episodes < 1:
            raise SweepError(f"objective.evaluate.episodes = {o.episodes}: must be >= 1")
    return o


def _parse_pruner(raw: Any, strategy: str, objective: Objective) -> PrunerSpec:
    from rlsight.runs.rundir import METRIC_COLUMNS

    if isinstance(raw, str):
        raw = {"kind": raw}
    raw = raw or {}
    _check_keys("[pruner]", raw, {"kind", "startup_trials", "warmup_steps", "min_steps", "reduction_factor", "metric"})
    p = PrunerSpec(kind=raw.get("kind", "none"))
    if p.kind not in PRUNERS:
        raise _unknown("pruner", str(p.kind), PRUNERS)
    if p.kind != "none" and strategy == "one-at-a-time":
        raise SweepError("pruner: one-at-a-time compares each stage's finished trials; use pruner = \"none\" "
                         "(pruning works with grid, random and tpe)")
    p.startup_trials = int(_number("pruner.startup_trials", raw.get("startup_trials", p.startup_trials), True))
    p.warmup_steps = int(_number("pruner.warmup_steps", raw.get("warmup_steps", p.warmup_steps), True))
    ms = raw.get("min_steps", "auto")
    p.min_steps = ms if ms == "auto" else int(_number("pruner.min_steps", ms, True))
    p.reduction_factor = int(_number("pruner.reduction_factor", raw.get("reduction_factor", p.reduction_factor), True))
    if p.startup_trials < 0 or p.warmup_steps < 0 or p.reduction_factor < 2 or (ms != "auto" and p.min_steps < 1):
        raise SweepError("pruner: startup_trials and warmup_steps must be >= 0, min_steps >= 1, reduction_factor >= 2")
    p.metric = raw.get("metric", objective.metric)
    if p.metric not in METRIC_COLUMNS:
        raise _unknown("pruner.metric", str(p.metric), METRIC_COLUMNS)
    return p


def _parse_local(raw: Any) -> LocalSpec:
    raw = raw or {}
    _check_keys("[local]", raw, {"workers", "gpus"})
    out = LocalSpec(workers=int(_number("local.workers", raw.get("workers", 1), True)), gpus=raw.get("gpus"))
    if out.workers < 1:
        raise SweepError(f"local.workers = {out.workers}: must be >= 1")
    if out.gpus is not None and not (isinstance(out.gpus, list) and all(isinstance(g, int) for g in out.gpus)):
        raise SweepError(f"local.gpus = {out.gpus!r}: give a list of GPU indices, e.g. [0, 1], or [] for none")
    return out


def _parse_slurm(raw: Any) -> SlurmSpec:
    raw = raw or {}
    s = SlurmSpec()
    _check_keys("[slurm]", raw, set(SlurmSpec.__dataclass_fields__))
    for k, v in raw.items():
        default = getattr(s, k)
        if isinstance(default, bool) or default is None:
            if v is not None and not isinstance(v, str):
                raise SweepError(f"slurm.{k} = {v!r}: expected a string")
        elif isinstance(default, (int, float)):
            v = _number(f"slurm.{k}", v, isinstance(default, int))
            if v < (1 if k in ("time_min", "cpus_per_task", "array_parallelism") else 0):
                raise SweepError(f"slurm.{k} = {v}: too small")
        elif isinstance(default, list) and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise SweepError(f"slurm.{k} = {v!r}: expected a list of shell lines")
        elif isinstance(default, dict) and not isinstance(v, dict):
            raise SweepError(f"slurm.{k} = {v!r}: expected a table of sbatch options")
        setattr(s, k, v)
    return s


def parse(data: dict, base, base_source: str, name: str) -> SweepSpec:
    """Validate a parsed sweep file. ``base`` is the base config before the ``set`` overrides."""
    _check_keys("the sweep file", data, TOP_KEYS)
    cfg = copy.deepcopy(base)
    overrides = data.get("set", {})
    if not isinstance(overrides, dict):
        raise SweepError("[set] must be a table of config keys")
    try:
        for k, v in _flatten(overrides).items():
            C.set_key(cfg, k, v)
        C.validate(cfg)
    except ConfigError as e:
        raise SweepError(f"[set]: {e}") from None

    strategy = data.get("strategy", "grid")
    if strategy not in STRATEGIES:
        raise _unknown("strategy", str(strategy), STRATEGIES)
    raw_params = data.get("params")
    if not isinstance(raw_params, dict) or not raw_params:
        raise SweepError("[params] is missing or empty: name at least one config key to search, e.g. \"ppo.lr\" = [1e-4, 5e-4]")
    params = {k: parse_param(k, v, cfg) for k, v in _flatten(raw_params, leaf=_is_param_spec).items()}
    if strategy in ("grid", "one-at-a-time"):
        for p in params.values():
            if not p.discrete:
                raise SweepError(f"params.{p.name}: {strategy} needs listed values or an integer range, "
                                 f"not a {p.type} range; give values = [...] or use strategy = \"random\" or \"tpe\"")
    order = data.get("order", list(params))
    if not isinstance(order, list):
        raise SweepError("order: give a list of parameter names")
    if "order" in data and strategy != "one-at-a-time":
        raise SweepError(f"order is used by one-at-a-time only (strategy is {strategy!r})")
    for n in order:
        if n not in params:
            raise _unknown("name in order (not in [params])", str(n), list(params))
    if len(set(order)) != len(order) or set(order) != set(params):
        raise SweepError(f"order = {order}: list every parameter of [params] exactly once")

    seeds = data.get("seeds", [cfg.train.seed])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise SweepError(f"seeds = {seeds!r}: give a non-empty list of integer seeds, or a count")
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"seeds = {seeds}: a seed is listed twice")

    trials = data.get("trials")
    if strategy in ("random", "tpe"):
        if trials is None:
            raise SweepError(f"trials: {strategy} needs a number of trials, e.g. trials = 20")
        trials = int(_number("trials", trials, True))
        if trials < 1:
            raise SweepError(f"trials = {trials}: must be >= 1")
    elif trials is not None:
        raise SweepError(f"trials is for random and tpe; {strategy} runs every combination it needs")
    direction = data.get("direction", "maximize")
    if direction not in DIRECTIONS:
        raise _unknown("direction", str(direction), DIRECTIONS)
    objective = _parse_objective(data.get("objective"))
    pruner = _parse_pruner(data.get("pruner"), strategy, objective)
    storage = data.get("storage", "sqlite")
    if not isinstance(storage, str) or not storage:
        raise SweepError("storage: give \"sqlite\" (default), \"journal\", or a database URL")
    if storage not in ("sqlite", "journal") and "://" not in storage:
        raise SweepError(f"storage = {storage!r}: give \"sqlite\", \"journal\", or a URL such as postgresql://user@host/db")
    train_fn = data.get("train_fn", "rlsight.sweep.trial:train_run")
    if not isinstance(train_fn, str) or ":" not in train_fn:
        raise SweepError(f"train_fn = {train_fn!r}: give \"module:function\"")
    spec = SweepSpec(
        name=str(data.get("name", name)), base=cfg, base_source=base_source, strategy=strategy, params=params,
        order=list(order), seeds=list(seeds), trials=trials or 0, direction=direction,
        sampler_seed=int(_number("sampler_seed", data.get("sampler_seed", 0), True)), objective=objective,
        pruner=pruner, storage=storage, local=_parse_local(data.get("local")), slurm=_parse_slurm(data.get("slurm")),
        train_fn=train_fn, raw=data,
    )
    for p in spec.params.values():  # every listed value must give a valid config on its own
        for v in (p.grid_values() if p.discrete else [p.low, p.high])[:1000]:
            try:
                spec.trial_config({p.name: v})
            except ConfigError as e:
                raise SweepError(f"params.{p.name} = {v!r}: {e}") from None
    if strategy == "grid" and math.prod(len(p.grid_values()) for p in params.values()) > 100_000:
        raise SweepError("grid: more than 100000 combinations; use random or tpe")
    return spec


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{path}: no such sweep file") from None
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{path}: not valid TOML ({e})") from None


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file; ``base`` is a config file (relative to the
    sweep file) or a preset name."""
    path = Path(path)
    data = read_toml(path)
    base_name = data.get("base")
    if base_name is None:
        base_cfg, source = C.Config(), "defaults"
    else:
        if not isinstance(base_name, str):
            raise SweepError(f"base = {base_name!r}: give a config file or a preset name")
        cand = path.parent / base_name
        try:
            base_cfg = C.load(cand if cand.is_file() else base_name)
        except ConfigError as e:
            raise SweepError(f"base: {e}") from None
        source = str(cand.resolve()) if cand.is_file() else base_name
    return parse(data, base_cfg, source, path.stem)
