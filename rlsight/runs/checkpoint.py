"""Checkpoint files: tensors in safetensors, everything else in JSON; no pickle.

torch and safetensors are imported by the functions that need them, so that
reading a run's JSON and CSV files (``rlsight.runs``) does not load torch.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from rlsight.errors import RunDirError
from rlsight.runs.atomic import atomic_write, atomic_write_text

if TYPE_CHECKING:
    import torch

# metadata key of the checksum over every tensor's name, dtype, shape and bytes: safetensors
# has none, so a flipped bit in the data would load silently as other weights
CHECKSUM = "rlsight_sha256"


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors' names, dtypes, shapes and bytes, in name order."""
    import hashlib

    import torch

    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(dtype=torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> None:
    """Write tensors (moved to the CPU) and string metadata as one safetensors file, atomically,
    with a checksum that ``load_tensors`` verifies."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    text_meta = {k: str(v) for k, v in (meta or {}).items()}
    text_meta[CHECKSUM] = tensors_digest(tensors)

    def write(p: Path) -> None:
        try:
            save_file(tensors, str(p), metadata=text_meta)
        except SafetensorError as e:  # its I/O errors (a full disk) arrive as text: "... (os error 28)"
            m = re.search(r"os error (\d+)", str(e))
            if m:
                code = int(m.group(1))
                raise OSError(code, os.strerror(code), str(p)) from None
            raise

    atomic_write(path, write)


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file; a truncated or corrupted file (one whose checksum, when it
    has one, does not match) raises a one-line RunDirError."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise RunDirError(f"{path}: file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError, UnicodeDecodeError) as e:
        why = " ".join(str(e).split())[:200]
        raise RunDirError(f"{path}: not a readable safetensors file ({why}); it may be truncated or corrupted") from None
    if CHECKSUM in meta and meta[CHECKSUM] != tensors_digest(tensors):
        raise RunDirError(f"{path}: checksum mismatch, the file is corrupted (a changed byte); use an earlier "
                          "checkpoint or train again")
    return tensors


def save_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def load_json(path: Path) -> dict:
    """Read a JSON file; a missing, truncated or corrupted file raises RunDirError."""
    if not path.is_file():
        raise RunDirError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"{path}: not valid JSON ({e}); it may be truncated or corrupted") from None


def load_state_dict_checked(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Load weights, turning a shape or key mismatch into one clear line."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if extra:
            parts.append(f"unexpected {extra[:3]}")
        if wrong:
            k = wrong[0]
            parts.append(f"{k} has shape {tuple(state[k].shape)}, the model needs {tuple(own[k].shape)}")
        raise RunDirError(f"{source}: weights do not fit this architecture ({'; '.join(parts)})")
    model.load_state_dict(state)
