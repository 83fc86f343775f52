"""What the machine offers: the device to run on, and what bfloat16 does on its CPU.

Below the trainer and the CLI, so that any reader (training, the CLI's hints,
benchmarks, notebooks) can ask without importing training code.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rlsight.errors import RlsightError

BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs with native bfloat16 arithmetic

# What bf16 forward passes did on a CPU with native bfloat16 (a 2-core Zen 5; docs/training.md)
BF16_MEASURED = {
    "impala": "trained procgen-paper 1.55x faster on such a CPU, its learning curve within seed noise",
    "nature": "trained cpu-30min about 1.25x faster on such a CPU, its held-out return within seed noise",
}


def resolve_device(name: str) -> torch.device:
    """``train.device`` as a torch device: "auto" is the GPU when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RlsightError(f"train.device = {name!r}, but no CUDA GPU is available; use cpu or auto")
    return torch.device(name)


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


def bf16_hint(cfg, flag: str | None = None) -> str | None:
    """One line for a float32 CPU run of a measured encoder (``BF16_MEASURED``) on a CPU
    with native bfloat16, where bf16 forward passes trained faster and learned as well.

    ``cfg`` is a ``rlsight.config.Config``; ``flag`` overrides the CPU's flag (for tests).
    """
    measured = BF16_MEASURED.get(cfg.model.encoder)
    if cfg.train.autocast != "off" or measured is None or resolve_device(cfg.train.device).type != "cpu":
        return None
    flag = flag or cpu_native_bf16()
    if flag is None:
        return None
    return (f"hint: this CPU computes in bfloat16 natively ({flag}); --set train.autocast=bf16 {measured} "
            "(docs/training.md)")
