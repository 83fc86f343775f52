"""PPO losses (Schulman et al. 2017) as sums over a chunk of samples.

Returning sums lets the update split a minibatch into chunks and accumulate
gradients: dividing each chunk's sum by the minibatch size gives the same
gradient as one pass over the whole minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlsight.models.sampling import action_distribution


def clipped_surrogate(ratio: torch.Tensor, adv: torch.Tensor, clip_eps: float) -> torch.Tensor:
    """Per-sample policy loss: -min(r A, clip(r, 1-eps, 1+eps) A)."""
    return -torch.min(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)


def value_loss(
    new_value: torch.Tensor, old_value: torch.Tensor, returns: torch.Tensor, clip_eps: float | None
) -> torch.Tensor:
    """Per-sample value loss 0.5 (V - R)^2; with ``clip_eps``, the larger of the
    unclipped and the clipped loss, the change clipped to [-eps, eps]."""
    unclipped = (new_value - returns) ** 2
    if clip_eps is None:
        return 0.5 * unclipped
    clipped_value = old_value + (new_value - old_value).clamp(-clip_eps, clip_eps)
    return 0.5 * torch.max(unclipped, (clipped_value - returns) ** 2)


STAT_NAMES = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


@dataclass
class LossSums:
    """Sums over a chunk; ``total`` is what is differentiated. ``stats`` holds the
    policy loss, value loss, entropy, approximate KL and clip count (detached, on
    the network's device: reading them is left to the caller, once per update,
    so a GPU is not made to wait after every chunk)."""

    total: torch.Tensor
    stats: torch.Tensor  # one value per name in STAT_NAMES


def ppo_loss(
    logits: torch.Tensor,
    new_value: torch.Tensor,
    actions: torch.Tensor,
    old_logp: torch.Tensor,
    old_value: torch.Tensor,
    returns: torch.Tensor,
    adv: torch.Tensor,
    *,
    clip_eps: float,
    value_clip_eps: float | None,
    value_coef: float,
    entropy_coef: float,
) -> LossSums:
    """PPO loss (clipped surrogate, value loss, entropy bonus) and its stats, summed over samples."""
    dist = action_distribution(logits)
    logp = dist.log_prob(actions)
    log_ratio = logp - old_logp
    ratio = log_ratio.exp()
    pg = clipped_surrogate(ratio, adv, clip_eps).sum()
    vl = value_loss(new_value, old_value, returns, value_clip_eps).sum()
    ent = dist.entropy().sum()
    total = pg + value_coef * vl - entropy_coef * ent
    with torch.no_grad():
        kl = ((ratio - 1) - log_ratio).sum()
        cf = ((ratio - 1).abs() > clip_eps).float().sum()
        stats = torch.stack([pg, vl, ent, kl, cf])
    return LossSums(total, stats)
