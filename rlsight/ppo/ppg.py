"""PPG's auxiliary phase (Phasic Policy Gradient, Cobbe et al. 2021), for a network whose
policy and value share the encoder: the stored rollouts' value targets are distilled
into the auxiliary value head (and the value head), while a behavioural-cloning KL to
the policy as it was before the phase keeps the policy where it was."""

from __future__ import annotations

import torch
from torch import nn

from rlsight.config import PPOConfig
from rlsight.models.policy import ActorCritic
from rlsight.models.sampling import action_distribution
from rlsight.ppo.precision import autocast_context


def aux_loss(logits: torch.Tensor, value: torch.Tensor, aux_value: torch.Tensor, old_logits: torch.Tensor,
             returns: torch.Tensor, clone_coef: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, value part, KL part), summed over samples: 0.5 (V_aux - R)^2 + 0.5 (V - R)^2
    + clone_coef KL(pi_old || pi)."""
    vl = 0.5 * ((aux_value - returns) ** 2).sum() + 0.5 * ((value - returns) ** 2).sum()
    kl = torch.distributions.kl_divergence(action_distribution(old_logits), action_distribution(logits)).sum()
    return vl + clone_coef * kl, vl.detach(), kl.detach()


def aux_phase(model: ActorCritic, optimizer: torch.optim.Optimizer, obs: torch.Tensor, returns: torch.Tensor,
              cfg: PPOConfig, chunk: int = 0, autocast: str = "off") -> dict[str, float]:
    """``cfg.ppg_aux_epochs`` epochs of minibatches (``cfg.batch_size``) over the stored frames
    ``obs`` (uint8) and their value targets ``returns``; returns the mean value loss and KL.
    ``model`` is an ActorCritic built with ``aux_value=True``."""
    device = next(model.parameters()).device
    M, mb = len(returns), cfg.batch_size
    chunk = chunk if 0 < chunk < mb else mb
    with torch.no_grad():  # the policy before the phase, the target of the cloning KL
        old = []
        for lo in range(0, M, chunk):
            with autocast_context(device, autocast):
                old.append(model(model.preprocess(obs[lo : lo + chunk].to(device)))[0].float())
        old_logits = torch.cat(old)
    sums = torch.zeros(2, device=device)
    for _ in range(cfg.ppg_aux_epochs):
        perm = torch.randperm(M, device=returns.device)
        for start in range(0, M, mb):
            idx = perm[start : start + mb]
            optimizer.zero_grad(set_to_none=True)
            for lo in range(0, len(idx), chunk):
                ci = idx[lo : lo + chunk]
                with autocast_context(device, autocast):
                    logits, value, aux = model.forward_aux(model.preprocess(obs[ci].to(device)))
                total, vl, kl = aux_loss(logits.float(), value.float(), aux.float(), old_logits[ci.to(device)],
                                         returns[ci].to(device), cfg.ppg_clone_coef)
                (total / len(idx)).backward()
                sums += torch.stack([vl, kl])
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
    vl_mean, kl_mean = (sums / (M * cfg.ppg_aux_epochs)).tolist()
    return {"aux_value_loss": vl_mean, "aux_kl": kl_mean}
