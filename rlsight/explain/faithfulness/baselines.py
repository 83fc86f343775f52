"""Model-agnostic maps that a faithful saliency method must beat: a random order
of the pixels and an edge detector (Sobel magnitude of the frame)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rlsight.errors import RlsightError


def float_frames(frames) -> torch.Tensor:
    """uint8 NHWC or float NCHW in [0, 1] -> float NCHW, without a model."""
    x = torch.as_tensor(frames)
    if x.ndim != 4:
        raise RlsightError(f"frames of shape {tuple(x.shape)}: expected (N, H, W, C) uint8 or (N, C, H, W) float")
    if x.dtype == torch.uint8:
        return x.permute(0, 3, 1, 2).float().div_(255.0)
    return x.float()


def random_maps(frames, seed: int = 0) -> torch.Tensor:
    """(N, 1, H, W) maps of independent uniform noise: a random pixel order per frame."""
    x = float_frames(frames)
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(x.shape[0], 1, x.shape[2], x.shape[3], generator=gen).to(x.device)


def edge_maps(frames) -> torch.Tensor:
    """(N, 1, H, W) Sobel gradient magnitude, channels combined: sqrt(sum_c gx^2 + gy^2)
    (borders replicated, so the frame's edge is not an edge)."""
    x = float_frames(frames)
    n, c, h, w = x.shape
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device)
    k = torch.stack([gx, gx.T]).unsqueeze(1)  # (2, 1, 3, 3)
    y = F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    g = F.conv2d(y, k).reshape(n, c, 2, h, w)
    return g.pow(2).sum((1, 2)).sqrt().unsqueeze(1)
