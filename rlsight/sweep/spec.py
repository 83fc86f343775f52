"""The sweep file, declared with pydantic: its tables, types, defaults and rules; checked
before anything starts.

A sweep file is TOML (format in docs/sweeps.md). ``load_sweep(path)`` returns a
``SweepSpec`` or raises ``SweepError``: one line naming the entry and what is allowed.
Rules that need the base config (parameter values, every value giving a valid config)
are in ``parse``.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass as schema
from pydantic_core import PydanticCustomError

from rlsight import config as C
from rlsight.errors import ConfigError, RlsightError

Strategy = Literal["one-at-a-time", "grid", "random", "tpe"]
ParamType = Literal["choice", "uniform", "log-uniform", "int"]
PrunerKind = Literal["none", "median", "successive-halving"]
Direction = Literal["maximize", "minimize"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
PARAM_TYPES: tuple[str, ...] = get_args(ParamType)
PRUNERS: tuple[str, ...] = get_args(PrunerKind)
DIRECTIONS: tuple[str, ...] = get_args(Direction)
# Keys that define what is searched: a sweep directory refuses a file that changes them.
IDENTITY_KEYS = ("base", "set", "strategy", "order", "seeds", "direction", "params", "objective", "pruner", "train_fn")

Int = Annotated[int, Strict()]
Number = Annotated[int, Strict()] | Annotated[float, Strict()]
Text = Annotated[str, Strict()]
FORBID = ConfigDict(extra="forbid")


class SweepError(RlsightError):
    """A mistake in a sweep file or a sweep directory."""


def _unknown(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> SweepError:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f"; valid: {', '.join(valid)}"
    return SweepError(f"unknown {kind} {name!r}{hint}")


def _bad(message: str) -> PydanticCustomError:
    return PydanticCustomError("sweep", "{message}", {"message": message})


def _metric(where: str) -> BeforeValidator:
    """A metrics.csv column name (``where`` names the key in errors)."""

    def check(v: Any) -> Any:
        from rlsight.runs.rundir import METRIC_COLUMNS

        if v != "" and v not in METRIC_COLUMNS:
            raise _bad(str(_unknown(where, str(v), METRIC_COLUMNS)))
        return v

    return BeforeValidator(check)


# -- the tables of a sweep file ------------------------------------------------------------


@schema(config=FORBID)
class Param:
    """One searched config key: listed values, or a uniform / log-uniform / integer range."""

    name: str
    type: ParamType = "choice"
    values: list[Any] = field(default_factory=list)
    low: Number | None = None
    high: Number | None = None
    step: Annotated[Int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _consistent(self) -> Param:
        where = f"params.{self.name}"
        if self.type == "choice":
            if self.low is not None or self.high is not None:
                raise _bad(f"{where}: give either values or low/high, not both")
            if not self.values:
                raise _bad(f"{where}: values is empty; list at least one value")
            return self
        if self.values:
            raise _bad(f"{where}: type = {self.type!r} takes low and high, not values")
        if self.low is None or self.high is None:
            raise _bad(f"{where}: a {self.type} range needs low and high")
        if self.type == "int" and not (type(self.low) is int and type(self.high) is int):
            raise _bad(f"{where}: an int range needs integer low and high (got {self.low!r}, {self.high!r})")
        if not self.low < self.high:
            raise _bad(f"{where}: low = {self.low} must be below high = {self.high}")
        if self.type == "log-uniform" and self.low <= 0:
            raise _bad(f"{where}: a log-uniform range needs low > 0 (got {self.low})")
        if self.step != 1 and self.type != "int":
            raise _bad(f"{where}: step = {self.step}: only integer ranges take a step")
        return self

    @property
    def discrete(self) -> bool:
        """Whether the values can be listed (choice, int)."""
        return self.type in ("choice", "int")

    def grid_values(self) -> list[Any]:
        """Every value, for strategies that enumerate (grid, one-at-a-time)."""
        if self.type == "choice":
            return list(self.values)
        if self.type == "int":
            return list(range(int(self.low), int(self.high) + 1, self.step))  # type: ignore[arg-type]
        raise SweepError(f"params.{self.name}: a {self.type} range has no finite list of values")

    def distribution(self, extra: Any = None):
        """The Optuna distribution; ``extra`` adds a value to a choice list (one-at-a-time's start)."""
        import optuna.distributions as D

        if self.type == "choice":
            choices = list(self.values) + ([extra] if extra is not None and extra not in self.values else [])
            return D.CategoricalDistribution(choices)
        lo, hi = self.low, self.high
        if self.type == "int":
            lo, hi = int(lo), int(hi)  # type: ignore[arg-type]
            if extra is not None:
                return D.IntDistribution(min(lo, int(extra)), max(hi, int(extra)))
            return D.IntDistribution(lo, hi, step=self.step)
        return D.FloatDistribution(float(lo), float(hi), log=self.type == "log-uniform")  # type: ignore[arg-type]


class _Evaluate(BaseModel):
    model_config = FORBID
    split: Literal["train", "test"] = "test"
    episodes: Annotated[Int, Field(ge=1)] = 256


@schema(config=FORBID)
class Objective:
    """What a trial scores: a metrics.csv column averaged over the last part of
    training, or a final evaluation of the trained model."""

    metric: str = "test_return"
    last_fraction: float = 0.25
    evaluate: bool = False
    split: str = "test"
    episodes: int = 256


class _ObjectiveTable(BaseModel):
    """[objective] as written: ``evaluate = { split, episodes }`` asks for a final evaluation."""

    model_config = FORBID
    metric: Annotated[str, _metric("objective.metric")] = "test_return"
    last_fraction: Annotated[Number, Field(gt=0, le=1)] = 0.25
    evaluate: _Evaluate | None = None

    def spec(self) -> Objective:
        """The objective this table asks for."""
        ev = self.evaluate
        return Objective(self.metric, float(self.last_fraction), ev is not None, *((ev.split, ev.episodes) if ev else ()))


@schema(config=FORBID)
class PrunerSpec:
    """Whether and how to stop weak trials early (Optuna's pruners)."""

    kind: PrunerKind = "none"
    startup_trials: Annotated[Int, Field(ge=0)] = 3
    warmup_steps: Annotated[Int, Field(ge=0)] = 0
    min_steps: Literal["auto"] | Annotated[Int, Field(ge=1)] = "auto"
    reduction_factor: Annotated[Int, Field(ge=2)] = 3
    metric: Annotated[str, _metric("pruner.metric")] = ""  # reported as the intermediate value (default: objective.metric)


@schema(config=FORBID)
class LocalSpec:
    """The local launcher: worker processes, and GPUs to share among them."""

    workers: Annotated[Int, Field(ge=1)] = 1
    gpus: list[Int] | None = None  # None: every GPU CUDA shows; [] : none


@schema(config=FORBID)
class SlurmSpec:
    """The SLURM launcher: resources of each trial's job (submitit)."""

    partition: Text | None = None
    time_min: Annotated[Int, Field(ge=1)] = 60
    cpus_per_task: Annotated[Int, Field(ge=1)] = 1
    gpus_per_task: Annotated[Int, Field(ge=0)] = 0
    mem_gb: Annotated[Number, Field(ge=0)] = 4.0
    array_parallelism: Annotated[Int, Field(ge=1)] = 8
    max_requeues: Annotated[Int, Field(ge=0)] = 3
    account: Text | None = None
    qos: Text | None = None
    setup: list[Text] = field(default_factory=list)  # shell lines run before each trial
    extra: dict[str, Any] = field(default_factory=dict)  # further sbatch options


class SweepFile(BaseModel):
    """A sweep file's top level, as written (``params`` and ``set`` are checked against the config)."""

    model_config = FORBID
    name: Text | None = None
    base: Text | None = None
    set: dict[str, Any] = {}
    strategy: Strategy = "grid"
    order: list[Text] | None = None
    seeds: list[Int] | Int | None = None
    trials: Annotated[Int, Field(ge=1)] | None = None
    direction: Direction = "maximize"
    sampler_seed: Int = 0
    params: dict[str, Any] = {}
    objective: _ObjectiveTable = Field(default_factory=_ObjectiveTable)
    pruner: PrunerSpec = Field(default_factory=PrunerSpec)
    storage: Text = "sqlite"
    local: LocalSpec = Field(default_factory=LocalSpec)
    slurm: SlurmSpec = Field(default_factory=SlurmSpec)
    train_fn: Text = "rlsight.sweep.trial:train_run"

    @model_validator(mode="before")
    @classmethod
    def _pruner_name(cls, raw: Any) -> Any:
        """``pruner = "median"`` is ``[pruner] kind = "median"``."""
        if isinstance(raw, dict) and isinstance(raw.get("pruner"), str):
            return {**raw, "pruner": {"kind": raw["pruner"]}}
        return raw

    @model_validator(mode="after")
    def _rules(self) -> SweepFile:
        s = self.strategy
        if s in ("random", "tpe") and self.trials is None:
            raise _bad(f"trials: {s} needs a number of trials, e.g. trials = 20")
        if s not in ("random", "tpe") and self.trials is not None:
            raise _bad(f"trials is for random and tpe; {s} runs every combination it needs")
        if self.order is not None and s != "one-at-a-time":
            raise _bad(f"order is used by one-at-a-time only (strategy is {s!r})")
        if self.pruner.kind != "none" and s == "one-at-a-time":
            raise _bad("pruner: one-at-a-time compares each stage's finished trials; use pruner = \"none\" "
                       "(pruning works with grid, random and tpe)")
        if isinstance(self.seeds, list) and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise _bad(f"seeds = {self.seeds}: give a non-empty list of distinct integer seeds, or a count")
        if not self.storage or self.storage not in ("sqlite", "journal") and "://" not in self.storage:
            raise _bad(f"storage = {self.storage!r}: give \"sqlite\", \"journal\", or a URL such as postgresql://user@host/db")
        if ":" not in self.train_fn:
            raise _bad(f"train_fn = {self.train_fn!r}: give \"module:function\"")
        return self


# -- errors as one line ------------------------------------------------------------------------

_CHOICES = {"strategy": STRATEGIES, "direction": DIRECTIONS, "kind": PRUNERS, "type": PARAM_TYPES,
            "split": ("train", "test"), "min_steps": ("auto", "an integer >= 1")}
_EXPECTED = {"int": "an integer", "float": "a number", "bool": "true or false", "string": "a string",
             "list": "a list", "dict": "a table", "dataclass": "a table", "model": "a table"}


def _one_line(err: ValidationError, where: tuple[str, ...] = ()) -> SweepError:
    """The first problem in ``err`` as one line naming the entry and what is allowed."""
    e = err.errors()[0]
    # union members and validators add tags such as "int" or "list[int]" to the location: not keys
    loc = [str(p) for p in (*where, *e["loc"]) if str(p) not in ("int", "float", "str", "bool", "none") and "[" not in str(p)]
    key, typ, ctx, value = ".".join(loc), e["type"], e.get("ctx") or {}, e.get("input")
    if typ == "sweep":
        return SweepError(ctx["message"])
    if typ in ("extra_forbidden", "unexpected_keyword_argument"):
        table = f"[{loc[0]}]" if len(loc) == 2 else ".".join(loc[:-1]) if len(loc) > 2 else "the sweep file"
        valid = _table_keys(loc[:-1])
        return _unknown(f"key in {table}", loc[-1], valid)
    if typ == "literal_error":
        return _unknown(key, str(value), _CHOICES.get(loc[-1], ()))
    if typ in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(f"{op} {ctx[k]}" for k, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")) if k in ctx)
        return SweepError(f"{key} = {value!r}: must be {bound}")
    kinds = [x["type"].split("_")[0] for x in err.errors() if x["loc"][:1] == e["loc"][:1]  # a union's members
             and x["type"].endswith(("_type", "_parsing", "_from_float"))]
    if kinds and typ.endswith(("_type", "_parsing", "_from_float")):
        words = ["a number" if k in ("int", "float") and {"int", "float"} <= set(kinds) else _EXPECTED.get(k, k)
                 for k in kinds]
        return SweepError(f"{key or 'the sweep file'} = {value!r}: expected {' or '.join(dict.fromkeys(words))}")
    return SweepError(f"{key}: {e['msg']}" if key else e["msg"])


def _table_keys(path: list[str]) -> list[str]:
    tables: dict[str, Any] = {"objective": _ObjectiveTable, "pruner": PrunerSpec, "local": LocalSpec, "slurm": SlurmSpec}
    if not path:
        return sorted(SweepFile.model_fields)
    if path[0] == "params":
        return sorted(set(Param.__pydantic_fields__) - {"name"})  # type: ignore[attr-defined]
    if path == ["objective", "evaluate"]:
        return sorted(_Evaluate.model_fields)
    cls = tables.get(path[0])
    fields = getattr(cls, "model_fields", None) or getattr(cls, "__pydantic_fields__", {})
    return sorted(fields)


# -- the spec ------------------------------------------------------------------------------------


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
        """Every combination of the parameters' values."""
        names = list(self.params)
        return [dict(zip(names, combo)) for combo in itertools.product(*(self.params[n].grid_values() for n in names))]

    def identity(self) -> dict:
        """The entries that define what is searched (a sweep directory keeps them fixed)."""
        return {k: self.raw.get(k) for k in IDENTITY_KEYS}


# -- parsing -------------------------------------------------------------------------------------


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


def parse_param(name: str, raw: Any, base) -> Param:
    """One ``[params]`` entry, its values checked against config key ``name`` of ``base``."""
    if name not in C.all_keys():
        raise _unknown("parameter", name, C.all_keys())
    if isinstance(raw, list):
        raw = {"values": raw}
    if not isinstance(raw, dict):
        raise SweepError(f"params.{name}: give a list of values, or a table like "
                         "{ type = \"log-uniform\", low = 1e-5, high = 1e-3 }")
    try:
        p = Param(**{"type": "choice" if "values" in raw else "uniform", **raw, "name": name})
    except ValidationError as e:
        raise _one_line(e, ("params", name)) from None
    if p.type == "choice":
        if any(isinstance(v, (list, dict)) for v in p.values):
            raise SweepError(f"params.{name}: list-valued keys cannot be swept; give scalar values")
        p.values = [_coerce(name, v, base) for v in p.values]
        if len(set(map(repr, p.values))) != len(p.values):
            raise SweepError(f"params.{name}: values {raw if isinstance(raw, list) else raw['values']} list the same value twice")
    else:
        for v in (p.low, p.high):
            _coerce(name, v, base)
    return p


def _coerce(name: str, value: Any, base) -> Any:
    """Type-check ``value`` for config key ``name``; returns it converted."""
    cfg = copy.deepcopy(base)
    try:
        C.set_key(cfg, name, value)
    except ConfigError as e:
        raise SweepError(f"params.{name}: {e}") from None
    return cfg.flat()[name]


def parse(data: dict, base, base_source: str, name: str) -> SweepSpec:
    """Validate a parsed sweep file. ``base`` is the base config before the ``set`` overrides."""
    try:
        f = SweepFile.model_validate(data)
    except ValidationError as e:
        raise _one_line(e) from None
    cfg = copy.deepcopy(base)
    try:
        for k, v in _flatten(f.set).items():
            C.set_key(cfg, k, v)
        C.validate(cfg)
    except ConfigError as e:
        raise SweepError(f"[set]: {e}") from None
    flat = _flatten(f.params, leaf=_is_param_spec)
    if not flat:  # also [params.ppo] with nothing in it
        raise SweepError("[params] is missing or empty: name at least one config key to search, e.g. \"ppo.lr\" = [1e-4, 5e-4]")
    if "train.seed" in flat:  # every trial runs each of `seeds`, which would overwrite it
        raise SweepError("params.train.seed: the seed is not a parameter; list the seeds every trial runs in "
                         "seeds = [0, 1, 2] (or a count, seeds = 3)")
    params = {k: parse_param(k, v, cfg) for k, v in flat.items()}
    for p in params.values():
        if f.strategy in ("grid", "one-at-a-time") and not p.discrete:
            raise SweepError(f"params.{p.name}: {f.strategy} needs listed values or an integer range, not a {p.type} "
                             f"range; give values = [...] or use strategy = \"random\" or \"tpe\"")
    order = f.order if f.order is not None else list(params)
    for n in order:
        if n not in params:
            raise _unknown("name in order (not in [params])", n, list(params))
    if len(set(order)) != len(order) or set(order) != set(params):
        raise SweepError(f"order = {order}: list every parameter of [params] exactly once")
    seeds = [cfg.train.seed] if f.seeds is None else list(range(f.seeds)) if isinstance(f.seeds, int) else f.seeds
    if not seeds:
        raise SweepError(f"seeds = {f.seeds}: give a non-empty list of integer seeds, or a count")
    objective = f.objective.spec()
    pruner = f.pruner
    pruner.metric = pruner.metric or objective.metric
    spec = SweepSpec(
        name=str(f.name if f.name is not None else name), base=cfg, base_source=base_source, strategy=f.strategy,
        params=params, order=list(order), seeds=list(seeds), trials=f.trials or 0, direction=f.direction,
        sampler_seed=f.sampler_seed, objective=objective, pruner=pruner, storage=f.storage, local=f.local,
        slurm=f.slurm, train_fn=f.train_fn, raw=data,
    )
    for p in spec.params.values():  # every listed value must give a valid config on its own
        for v in (p.grid_values() if p.discrete else [p.low, p.high])[:1000]:
            try:
                spec.trial_config({p.name: v})
            except ConfigError as e:
                raise SweepError(f"params.{p.name} = {v!r}: {e}") from None
    if f.strategy == "grid" and math.prod(len(p.grid_values()) for p in params.values()) > 100_000:
        raise SweepError("grid: more than 100000 combinations; use random or tpe")
    _check_trainable(spec)
    return spec


def _check_trainable(spec: SweepSpec) -> None:
    """Refuse, before anything starts, trials that training would refuse (``Config.check_trainable``):
    every combination of the parameters it reads for a grid, the base config where no parameter
    changes what it reads. Other strategies' trials with such parameters are checked when they train."""
    read = [p for n, p in spec.params.items() if n in C.TRAINABLE_KEYS]
    if read and spec.strategy != "grid":
        return
    for values in itertools.product(*(p.grid_values() for p in read)):
        assignment = dict(zip((p.name for p in read), values))
        try:
            spec.trial_config(assignment).check_trainable()
        except ConfigError as e:
            where = ", ".join(f"{k} = {v!r}" for k, v in assignment.items()) or "[set] and the base config"
            raise SweepError(f"{where}: {e}") from None


def read_toml(path: Path) -> dict:
    """A sweep file's TOML, or a one-line SweepError."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{path}: no such sweep file") from None
    except IsADirectoryError:
        raise SweepError(f"{path}: a folder; give the sweep's TOML file") from None
    except UnicodeDecodeError as e:
        raise SweepError(f"{path}: not a TOML file (TOML is UTF-8; byte {e.start} is not)") from None
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{path}: not valid TOML ({' '.join(str(e).split())})") from None


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
