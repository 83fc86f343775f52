"""Typed run configuration, declared once in ``schema``: TOML load/save, dotted ``--set``
overrides and one-line errors (``load``), preset names (``presets``). Touches neither
torch nor the environments."""

from rlsight.config.load import (
    all_keys,
    allowed,
    describe,
    field_info,
    from_dict,
    load,
    loads,
    one_line,
    parse_override,
    read_text,
    set_key,
    unknown_key,
    validate,
)
from rlsight.config.presets import resolve_config_path
from rlsight.config.schema import (
    ATARI_FLAVOURS,
    ATARI_GAMES,
    AUTOCAST,
    COMPILE,
    FAMILIES,
    GAMES,
    LATE_KEYS,
    LOGGERS,
    MODES,
    REMOVED_KEYS,
    SECTIONS,
    TRAINABLE_KEYS,
    Config,
    EnvConfig,
    ModelConfig,
    PPOConfig,
    TrainConfig,
    flavour_name,
    modes_for,
    toml_value,
)
from rlsight.errors import ConfigError

__all__ = [
    "ATARI_FLAVOURS", "ATARI_GAMES", "flavour_name", "AUTOCAST", "COMPILE", "Config", "ConfigError", "EnvConfig", "FAMILIES", "GAMES", "LATE_KEYS",
    "LOGGERS", "MODES",
    "ModelConfig", "PPOConfig", "REMOVED_KEYS", "SECTIONS", "TRAINABLE_KEYS", "TrainConfig", "all_keys", "allowed", "describe",
    "field_info", "from_dict", "load", "loads", "modes_for", "one_line", "parse_override", "read_text", "resolve_config_path",
    "set_key", "toml_value", "unknown_key", "validate",
]
