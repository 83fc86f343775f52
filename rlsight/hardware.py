"""What the machine offers and how to use it: the device to run on, what bfloat16
does on its CPU, and the CPU process's memory allocator setting.

Below the trainer and the CLI, so that any reader (training, the CLI's hints,
benchmarks, notebooks) can ask without importing training code. torch is
imported only by the functions that need it.

The allocator setting (``keep_freed_memory``) keeps freed memory inside the
process on glibc (Linux) CPU runs. By default glibc returns large freed blocks
to the operating system at once, so every forward/backward pass of a
convolutional network maps its activations afresh and pays a page fault per
4 KiB page. Raising the mmap and trim thresholds keeps those blocks in the heap
for the next pass. The maths is untouched; only where memory comes from changes.
On the 2-core development machine this made IMPALA forward+backward passes about
12% faster in chunks of 64 and about 35% faster in one pass of 2,048 (see
docs/cpu-recipe.md). Set the environment variable ``RLSIGHT_KEEP_FREED_MEMORY=0``
(``ENV_SWITCH``) to leave the allocator alone (the benchmarks do so for their
CleanRL-style baseline).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rlsight.errors import RlsightError

if TYPE_CHECKING:
    import torch

BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs with native bfloat16 arithmetic

# What bf16 forward passes did on a CPU with native bfloat16 (a 2-core Zen 5; docs/training.md)
BF16_MEASURED = {
    "impala": "trained procgen-paper 1.55x faster on such a CPU, its learning curve within seed noise",
    "nature": "trained cpu-30min about 1.25x faster on such a CPU, its held-out return within seed noise",
}


def resolve_device(name: str) -> torch.device:
    """``train.device`` as a torch device: "auto" is the GPU when there is one, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RlsightError(f"train.device = {name!r}, but no CUDA GPU is available; use cpu or auto")
    return torch.device(name)


def reader_device(name: str) -> torch.device:
    """``--device`` of a command that reads a run (evaluate, saliency-check, ...): cpu, cuda or
    cuda:N; a one-line error for another name, or for cuda without a CUDA GPU."""
    import torch

    if name != "cpu" and not (name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise RlsightError(f"--device {name!r}: valid: cpu, cuda, cuda:N")
    if name != "cpu" and not torch.cuda.is_available():
        raise RlsightError(f"--device {name!r}: no CUDA GPU is available; use --device cpu")
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


# mallopt parameter numbers from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 1 << 30  # keep up to 1 GiB of free memory at the top of the heap
TOP_PAD = 256 * 1024 * 1024  # grow the heap in steps of 256 MiB

ENV_SWITCH = "RLSIGHT_KEEP_FREED_MEMORY"

_applied = False


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None


def keep_freed_memory() -> bool:
    """Tune glibc's allocator for this process; True if it is now tuned.

    Process-wide and not undone: call it once before training. Elsewhere than
    glibc (macOS, musl, Windows), or with ``RLSIGHT_KEEP_FREED_MEMORY=0``, it
    does nothing and returns False.
    """
    global _applied
    if _applied:
        return True
    if os.environ.get(ENV_SWITCH, "1").strip() == "0":
        return False
    libc = _glibc()
    if libc is None:
        return False
    ok = all(libc.mallopt(p, v) == 1 for p, v in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD)))
    _applied = ok
    return ok
