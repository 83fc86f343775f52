"""The precision of the network's forward passes (``train.autocast``)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs with native bfloat16 arithmetic


def autocast_context(device: torch.device, mode: str):
    """bf16 autocast on ``device`` for ``mode == "bf16"``; no change for "off"."""
    if mode == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The flag that shows this CPU computes in bfloat16 natively (amx_bf16 or
    avx512_bf16), or None: without them oneDNN emulates bf16, slower than float32."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return next((f for f in BF16_FLAGS if f in flags), None)
    return None
