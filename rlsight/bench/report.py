"""Reporting benchmark results: a hardware line, and writing one section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch

HEADER = "# Benchmarks\n\nWritten by the scripts in `benchmarks/`; each section says how it was measured.\n"


def hardware(device: str = "cpu") -> str:
    """One line naming the CPU, its cores, torch, its threads and (on ``cuda``) the GPU."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if device.startswith("cuda") and torch.cuda.is_available():
        out += f", GPU {torch.cuda.get_device_name()}"
    return out


def add_machine_argument(ap) -> None:
    """``--machine LABEL`` for a script that writes a section (see ``write_section``)."""
    ap.add_argument("--machine", default="", metavar="LABEL",
                    help="write to a section of its own for this kind of machine (e.g. 'AMD EPYC, 2 cores')")


def write_section(path: Path, key: str, title: str, body: str, device: str = "cpu", machine: str = "") -> None:
    """Replace (or append) the block between <!-- key:start --> and <!-- key:end -->.

    Results measured on a GPU go to their own section (``key-gpu``), so that they
    never replace the CPU figures, and the other way round. ``machine`` (e.g.
    "AMD EPYC, 2 cores") gives a measurement on another kind of machine its own
    section too (``key-amd-epyc-2-cores``), beside the unlabelled one."""
    base = key
    if device.startswith("cuda"):
        key, title = f"{key}-gpu", f"{title}, on a GPU"
    if machine:
        slug = re.sub(r"[^a-z0-9]+", "-", machine.lower()).strip("-")
        if not slug:
            raise ValueError(f"machine label {machine!r}: needs at least one letter or digit")
        key, title = f"{key}-{slug}", f"{title}, on {machine}"
    text = path.read_text() if path.exists() else HEADER
    block = f"<!-- {key}:start -->\n## {title}\n\n{body}\n<!-- {key}:end -->"
    pattern = re.compile(rf"<!-- {key}:start -->.*?<!-- {key}:end -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:  # a new section goes after the last one of the same measurement, else at the end
        ends = list(re.finditer(rf"<!-- {re.escape(base)}(-[a-z0-9-]+)?:end -->", text))
        if ends:
            at = ends[-1].end()
            text = text[:at] + "\n\n" + block + text[at:]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
