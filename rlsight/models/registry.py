"""Encoder registry by name, importable without torch (config validation uses it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# name -> "module:Class"; resolved lazily so that config validation need not import torch.
ENCODERS: dict[str, str] = {
    "nature": "rlsight.models.encoders:NatureEncoder",
    "impala": "rlsight.models.encoders:ImpalaEncoder",
}


def register_encoder(name: str, target: str | Callable[..., Any]) -> None:
    """Add an encoder: ``target`` is a class or ``"module:Class"``.

    The class takes ``(in_shape, model_config)`` and exposes ``out_features``.
    """
    ENCODERS[name] = target  # type: ignore[assignment]


def encoder_class(name: str) -> Callable[..., Any]:
    """The encoder class registered as ``name`` (a ``module:Class`` entry is imported)."""
    target = ENCODERS[name]
    if not isinstance(target, str):
        return target
    import importlib

    mod, _, cls = target.partition(":")
    return getattr(importlib.import_module(mod), cls)
