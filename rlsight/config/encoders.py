"""Encoder names a config may use, and where each class lives.

The table sits in the config layer so that validating a config imports neither
torch nor anything above config. ``rlsight.models.registry`` exposes this same
dict as ``ENCODERS`` and resolves the ``"module:Class"`` targets lazily;
``register_encoder`` there adds to it.
"""

from __future__ import annotations

from typing import Any

BUILTIN_ENCODERS = ("impala", "nature")

# name -> "module:Class" (or a class registered at run time)
ENCODERS: dict[str, Any] = {
    "nature": "rlsight.models.encoders:NatureEncoder",
    "impala": "rlsight.models.encoders:ImpalaEncoder",
}
