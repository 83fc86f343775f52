"""Encoder registry by name, importable without torch.

The name table itself lives in the config layer (``rlsight.config.encoders``), so that
config validation knows the names without importing models; this module resolves them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rlsight.config.encoders import BUILTIN_ENCODERS, ENCODERS

assert set(BUILTIN_ENCODERS) <= set(ENCODERS), "every built-in encoder needs a class"


def register_encoder(name: str, target: str | Callable[..., Any]) -> None:
    """Add an encoder: ``target`` is a class or ``"module:Class"``.

    The class takes ``(in_shape, model_config)`` and exposes ``out_features``.
    """
    ENCODERS[name] = target


def encoder_class(name: str) -> Callable[..., Any]:
    """The encoder class registered as ``name``."""
    target = ENCODERS[name]
    if not isinstance(target, str):
        return target
    import importlib

    mod, _, cls = target.partition(":")
    return getattr(importlib.import_module(mod), cls)
