"""Data augmentation for the update (DrAC / RAD, Raileanu et al. 2021, Laskin et al. 2020):
random shifts of the frames, and DrAC's regulariser."""

from __future__ import annotations

import torch

from rlsight.models.sampling import action_distribution


def random_shift(obs: torch.Tensor, pad: int, kind: str) -> torch.Tensor:
    """Frames (B, H, W, C) each shifted by its own random offset in [-pad, pad] per axis.

    ``kind="crop"`` repeats the edge pixels into the uncovered border (a random crop of the
    edge-padded frame); ``"translate"`` leaves it zero. The offsets come from torch's global
    generator (on the host), so a checkpoint's saved RNG state makes them reproducible.
    """
    if kind not in ("crop", "translate"):
        raise ValueError(f"augmentation {kind!r}: valid: crop, translate")
    B, H, W = obs.shape[:3]
    shift = torch.randint(-pad, pad + 1, (B, 2)).to(obs.device)
    rows = torch.arange(H, device=obs.device)[None, :] + shift[:, :1]  # (B, H)
    cols = torch.arange(W, device=obs.device)[None, :] + shift[:, 1:]  # (B, W)
    out = obs[torch.arange(B, device=obs.device)[:, None, None], rows.clamp(0, H - 1)[:, :, None],
              cols.clamp(0, W - 1)[:, None, :]]
    if kind == "translate":
        inside = ((rows >= 0) & (rows < H))[:, :, None] & ((cols >= 0) & (cols < W))[:, None, :]
        out = out * inside[..., None].to(out.dtype)
    return out


def drac_regulariser(logits: torch.Tensor, value: torch.Tensor, aug_logits: torch.Tensor,
                     aug_value: torch.Tensor) -> torch.Tensor:
    """DrAC's G_pi + G_V, summed over samples: KL(pi(.|s) || pi(.|f(s))) + (V(f(s)) - V(s))^2,
    with the un-augmented policy and value held fixed (no gradient through them)."""
    p = action_distribution(logits.detach())
    q = action_distribution(aug_logits)
    g_pi = torch.distributions.kl_divergence(p, q).sum()
    g_v = ((aug_value - value.detach()) ** 2).sum()
    return g_pi + g_v
