"""The precision of the network's forward passes (``train.autocast``)."""

from __future__ import annotations

import contextlib

import torch


def autocast_context(device: torch.device, mode: str):
    """bf16 autocast on ``device`` for ``mode == "bf16"``; no change for "off"."""
    if mode == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
