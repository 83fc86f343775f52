"""Reading the original project's checkpoints (plain PyTorch state dicts)."""

from __future__ import annotations

from pathlib import Path

import torch

from rlsight.config import ModelConfig
from rlsight.errors import RlsightError


def read_foreign_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a ``.pt`` state dict safely (``weights_only=True``, on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise RlsightError(f"{path}: file not found")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, truncation, unsafe globals
        raise RlsightError(f"{path}: cannot be read as a PyTorch state dict with weights_only=True ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise RlsightError(f"{path}: not a state dict of tensors")
    return dict(sd)


def detect_model_config(sd: dict[str, torch.Tensor], source: str = "checkpoint") -> ModelConfig:
    """Infer encoder, feature size and IMPALA widths from state-dict keys and shapes."""
    if "encoder.layers.0.weight" in sd and "encoder.layers.7.weight" in sd:
        return ModelConfig(encoder="nature", n_features=int(sd["encoder.layers.7.weight"].shape[0]))
    if "encoder.block1.conv.weight" in sd and "encoder.fc.weight" in sd:
        widths = []
        i = 1
        while f"encoder.block{i}.conv.weight" in sd:
            widths.append(int(sd[f"encoder.block{i}.conv.weight"].shape[0]))
            i += 1
        return ModelConfig(encoder="impala", n_features=int(sd["encoder.fc.weight"].shape[0]), impala_channels=widths)
    keys = ", ".join(list(sd)[:4])
    raise RlsightError(f"{source}: unknown architecture (keys start {keys}); expected a Nature-DQN or IMPALA checkpoint")
