"""The PPO update: epochs over shuffled minibatches, each minibatch optionally
split into chunks whose gradients accumulate (same update, less cache pressure)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rlsight.config import PPOConfig
from rlsight.ppo import losses


@dataclass
class Batch:
    """A flattened rollout: obs uint8 (B, 64, 64, 3); the rest (B,)."""

    obs: torch.Tensor
    actions: torch.Tensor
    logp: torch.Tensor
    values: torch.Tensor
    returns: torch.Tensor
    advantages: torch.Tensor

    def __len__(self) -> int:
        return self.actions.shape[0]


def ppo_update(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    cfg: PPOConfig,
    chunk: int = 0,
    channels_last: bool = False,
) -> dict[str, float]:
    """Run ``cfg.num_epochs`` epochs of minibatch updates; returns mean statistics."""
    B, mb = len(batch), cfg.batch_size
    chunk = chunk if 0 < chunk < mb else mb
    vclip = None if not cfg.use_clipped_value else (cfg.value_clip_eps if cfg.value_clip_eps > 0 else cfg.clip_eps)
    sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0, "clip_fraction": 0.0}
    grad_norms = []
    device = next(model.parameters()).device
    for _ in range(cfg.num_epochs):
        perm = torch.randperm(B, device=batch.actions.device)
        for start in range(0, B, mb):
            idx = perm[start : start + mb]
            adv = batch.advantages[idx]
            if cfg.normalize_advantages:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            optimizer.zero_grad(set_to_none=True)
            for c in range(0, mb, chunk):
                ci = idx[c : c + chunk]
                obs = batch.obs[ci].to(device, non_blocking=True)
                x = model.preprocess(obs)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                logits, value = model(x)
                s = losses.ppo_loss(
                    logits, value, batch.actions[ci].to(device), batch.logp[ci].to(device),
                    batch.values[ci].to(device), batch.returns[ci].to(device), adv[c : c + chunk].to(device),
                    clip_eps=cfg.clip_eps, value_clip_eps=vclip,
                    value_coef=cfg.value_coef, entropy_coef=cfg.entropy_coef,
                )
                (s.total / mb).backward()
                sums["policy_loss"] += s.policy
                sums["value_loss"] += s.value
                sums["entropy"] += s.entropy
                sums["approx_kl"] += s.approx_kl
                sums["clip_fraction"] += s.clip_fraction
            grad_norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)))
            optimizer.step()
    n = B * cfg.num_epochs
    out = {k: v / n for k, v in sums.items()}
    out["grad_norm"] = sum(grad_norms) / len(grad_norms)
    return out
