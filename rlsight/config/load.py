"""Reading configs: TOML files and presets, dotted ``--set key=value`` overrides, and the
pydantic errors of the schema turned into one line that names the key and what is allowed."""

from __future__ import annotations

import difflib
import functools
import tomllib
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types as at
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from rlsight.config.presets import resolve_config_path
from rlsight.config.schema import REMOVED_KEYS, SECTIONS, Config, toml_value
from rlsight.errors import ConfigError, ConfigWarning

_CONFIG = TypeAdapter(Config)
# How a wrong choice names the list of valid ones (a plain "valid:" for the others).
_CHOICE_WORDS = {"env.game": "unknown game; valid", "env.distribution_mode": "valid modes"}
# why a value that looks valid is not one
_CHOICE_NOTES = {("env.distribution_mode", "exploration"): " (not procgen's exploration mode: it plays one "
                 "fixed level per game, which leaves no held-out levels)"}
_EXPECTED = {"int": "an integer", "float": "a number", "bool": "true or false", "string": "a string",
             "list": "a list", "literal": "one of the listed values"}


# -- the declaration, read back ---------------------------------------------------------------


def all_keys() -> list[str]:
    """Every dotted key, in declaration order."""
    return [f"{s}.{name}" for s, cls in SECTIONS.items() for name in _fields(cls)]


def describe() -> list[tuple[str, str, Any]]:
    """(dotted key, description, default) for every key."""
    default = Config().flat()
    return [(key, field_info(key).description or "", default[key]) for key in all_keys()]


def allowed(key: str) -> str:
    """What ``key`` accepts, in a few words: its choices, its range, or its type."""
    fi = field_info(key)
    if isinstance(fi.json_schema_extra, dict) and "allowed" in fi.json_schema_extra:
        return str(fi.json_schema_extra["allowed"])
    if get_origin(fi.annotation) is Literal:
        return ", ".join(map(str, get_args(fi.annotation)))
    if key == "model.encoder":
        from rlsight.config.encoders import ENCODERS

        return ", ".join(sorted(ENCODERS))
    kinds: dict[Any, str] = {bool: "true/false", int: "integer", float: "number", str: "text"}
    kind = kinds.get(fi.annotation, "list of integers")
    rng = _range(fi.metadata)
    return f"{kind} {rng}" if rng else kind


def _fields(cls: type) -> dict[str, FieldInfo]:
    return cls.__pydantic_fields__  # type: ignore[attr-defined]


def field_info(key: str) -> FieldInfo:
    """The declaration of one dotted key; ConfigError for an unknown key."""
    sec, _, name = key.partition(".")
    fi = _fields(SECTIONS[sec]).get(name) if sec in SECTIONS else None
    if fi is None:
        raise unknown_key(key)
    return fi


@functools.cache
def _adapter(key: str) -> TypeAdapter:
    """A validator for one key's value alone (its type, range and rule; no cross-field check)."""
    fi = field_info(key)
    annotation: Any = fi.annotation  # typed differently by pydantic releases; every declared key has one
    assert annotation is not None, key
    return TypeAdapter(Annotated[(annotation, *fi.metadata)] if fi.metadata else annotation)


def _range(metadata: list[Any]) -> str:
    lo = next((m for m in metadata if isinstance(m, (at.Gt, at.Ge))), None)
    hi = next((m for m in metadata if isinstance(m, (at.Lt, at.Le))), None)
    lo_text = lo and (f"> {lo.gt}" if isinstance(lo, at.Gt) else f">= {lo.ge}")
    if hi is None:
        return lo_text or ""
    hi_v, hi_c = (hi.lt, ")") if isinstance(hi, at.Lt) else (hi.le, "]")
    if lo is None:
        return f"{'<' if hi_c == ')' else '<='} {hi_v}"
    return f"in {'(' if isinstance(lo, at.Gt) else '['}{getattr(lo, 'gt', getattr(lo, 'ge', None))}, {hi_v}{hi_c}"


# -- errors -------------------------------------------------------------------------------------


def unknown_key(key: str) -> ConfigError:
    """The error for a key the schema does not have, with the closest one."""
    close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else "; see docs/config.md for the keys"
    return ConfigError(f"unknown config key {key!r}{hint}")


def one_line(err: ValidationError, where: tuple[str, ...] = ()) -> ConfigError:
    """The first problem in ``err`` as one line: the key, its value, what is allowed."""
    e = err.errors()[0]
    loc = (*where, *e["loc"])
    names = [str(p) for p in loc if not isinstance(p, int)]
    key, typ, ctx = ".".join(names), e["type"], e.get("ctx") or {}
    if typ == "rlsight_line":
        return ConfigError(ctx["message"])
    if typ in ("unexpected_keyword_argument", "extra_forbidden"):
        return unknown_key(key)
    if typ in ("dataclass_type", "dict_type", "model_type") and len(names) == 1:
        return ConfigError(f"[{key}] must be a table of keys, e.g. [{key}] then key = value lines")
    fi = _fields(SECTIONS[names[0]]).get(names[1]) if len(names) == 2 and names[0] in SECTIONS else None
    item = next((p for p in loc if isinstance(p, int)), None)
    value = ctx.get("value", e.get("input"))
    head = f"{key} = {value!r}" if item is None else f"{key}[{item}] = {value!r}"
    if typ == "rlsight":
        return ConfigError(f"{head}: {ctx['why']}")
    if typ == "literal_error" and fi is not None:
        note = _CHOICE_NOTES.get((key, value), "") if isinstance(value, str) else ""
        return ConfigError(f"{head}: {_CHOICE_WORDS.get(key, 'valid')}: {', '.join(map(str, get_args(fi.annotation)))}{note}")
    if typ in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        rng = _range(fi.metadata) if fi is not None and item is None else ""
        return ConfigError(f"{head}: must be {rng or _range([at.Gt(ctx['gt']) if 'gt' in ctx else at.Ge(ctx['ge'])])}")
    if typ == "too_short":
        return ConfigError(f"{head}: give one or more values")
    kind = typ.split("_")[0]
    if kind in _EXPECTED and typ.endswith(("_type", "_parsing", "_from_float", "_error")):
        what = _EXPECTED[kind]
        if fi is not None and fi.annotation not in (bool, int, float, str):
            example = Config().flat()[key]
            kind = "integers" if all(isinstance(x, int) for x in example) else "names"
            what = f"a list of {kind}, e.g. {toml_value(example)}"
        return ConfigError(f"{head}: expected {what}")
    return ConfigError(f"{head}: {e['msg']}" if names else e["msg"])


# -- building configs -------------------------------------------------------------------------


def _drop_removed(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` without the removed keys (each named in one warning), and those keys' values."""
    removed: dict[str, Any] = {}
    data = dict(data)
    for key in REMOVED_KEYS:
        sec, name = key.split(".")
        if isinstance(data.get(sec), dict) and name in data[sec]:
            data[sec] = dict(data[sec])
            removed[key] = data[sec].pop(name)
            _warn_removed(key)
    return data, removed


def _warn_removed(key: str) -> None:
    warnings.warn(f"config key {key} was removed (measured as useless, see BENCHMARKS.md); its value is ignored",
                  ConfigWarning, stacklevel=4)


def from_dict(data: dict[str, Any], base: Config | None = None) -> Config:
    """Build and validate a config from nested ``{section: {key: value}}`` over ``base`` (defaults)."""
    if not isinstance(data, dict):
        raise ConfigError(f"a config is a table of sections ({', '.join(SECTIONS)}), not {type(data).__name__}")
    data, removed = _drop_removed(data)
    merged: dict[str, Any] = base.to_dict() if base else {}
    for sec, values in data.items():
        both_tables = isinstance(values, dict) and isinstance(merged.get(sec), dict)
        merged[sec] = {**merged[sec], **values} if both_tables else values
    try:
        cfg = _CONFIG.validate_python(merged)
    except ValidationError as e:
        raise one_line(e) from None
    cfg.removed = {**(base.removed if base else {}), **removed}
    return cfg


def _from_text(key: str, text: str) -> Any:
    """A ``--set`` value: TOML (``3e-4``, ``true``, ``[8, 16]``), or the text itself for a
    key that takes text or where it is not TOML."""
    fi = field_info(key) if key not in REMOVED_KEYS else None
    if fi is not None and (fi.annotation is str or get_origin(fi.annotation) is Literal):
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_key(cfg: Config, key: str, value: Any) -> None:
    """Set one dotted key, converting and type-checking the value (cross-field checks are
    ``validate``'s)."""
    if key in REMOVED_KEYS:
        _warn_removed(key)
        cfg.removed[key] = value
        return
    field_info(key)
    if isinstance(value, str):
        value = _from_text(key, value)
    try:
        value = _adapter(key).validate_python(value)
    except ValidationError as e:
        raise one_line(e, tuple(key.split("."))) from None
    sec, name = key.split(".")
    setattr(getattr(cfg, sec), name, value)


def parse_override(text: str) -> tuple[str, str]:
    """``"key=value"`` -> ``("key", "value")``."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. ppo.lr=3e-4")
    k, v = text.split("=", 1)
    return k.strip(), v.strip()


def _read_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML ({' '.join(str(e).split())})") from None


def read_text(p: Path) -> str:
    """A config file's text (TOML is UTF-8); a file that is not gets a one-line error."""
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not a TOML file (TOML is UTF-8; byte {e.start} is not)") from None


def load(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Load a TOML file (or preset name), apply ``key=value`` overrides, validate."""
    p = resolve_config_path(path)
    data = _read_toml(read_text(p), str(p))
    for o in overrides or []:
        key, text = parse_override(o)
        if key not in REMOVED_KEYS:
            field_info(key)
        sec, name = key.split(".")
        if not isinstance(data.get(sec, {}), dict):
            raise ConfigError(f"[{sec}] must be a table of keys, e.g. [{sec}] then key = value lines")
        data[sec] = {**data.get(sec, {}), name: _from_text(key, text)}
    return from_dict(data)


def loads(text: str) -> Config:
    """A config from TOML text (RUN/config.toml), validated."""
    return from_dict(_read_toml(text, "config"))


def validate(cfg: Config) -> None:
    """Raise ConfigError naming the first value that is wrong or out of range."""
    try:
        _CONFIG.validate_python(cfg.to_dict())
    except ValidationError as e:
        raise one_line(e) from None
