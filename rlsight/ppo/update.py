"""The PPO update: epochs over shuffled minibatches, each minibatch optionally
split into chunks whose gradients accumulate (same update, less cache pressure),
the chunks optionally spread over CPU cores."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import cast

import torch
from torch import nn

from rlsight.config import PPOConfig
from rlsight.ppo import augment, losses
from rlsight.ppo.losses import STAT_NAMES
from rlsight.ppo.precision import autocast_context


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
    workers: int = 1,
    autocast: str = "off",
) -> dict[str, float]:
    """Run ``cfg.num_epochs`` epochs of minibatch updates; returns mean statistics.

    ``chunk`` splits each minibatch into forward/backward passes whose gradients
    add up to the minibatch's. With ``workers`` > 1 (CPU), the chunks are dealt
    out in contiguous groups to that many threads, one core each, and the groups'
    gradients are added in a fixed order, so results stay reproducible.
    ``autocast="bf16"`` runs the network's forward passes in bfloat16 (the loss in float32).
    ``cfg.augment`` shifts each minibatch's frames at random: DrAC adds its regulariser,
    RAD learns from the shifted frames only (``rlsight.ppo.augment``).
    Statistics stay on the device until the end: the host reads them once per
    call, so a GPU never waits for the host between minibatches.
    """
    B, mb = len(batch), cfg.batch_size
    chunk = chunk if 0 < chunk < mb else mb
    vclip = value_clip_range(cfg)
    chunk_stats: list[list[torch.Tensor]] = []  # per worker group and minibatch, its chunks' LossSums.stats
    grad_norms: list[torch.Tensor] = []
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    # an ActorCritic (or a compiled one): uint8 frames -> network input
    preprocess = cast(Callable[[torch.Tensor], torch.Tensor], model.preprocess)
    drac = cfg.augment != "off" and cfg.augment_mode == "drac"  # DrAC: clean and shifted frames in one pass

    def run_chunks(idx: torch.Tensor, adv: torch.Tensor, aug: torch.Tensor | None, spans: list[tuple[int, int]],
                   accumulate: bool):
        """Forward/backward over ``spans`` of ``idx`` (``aug``: the minibatch's augmented frames, or None):
        returns (gradients or None, each chunk's stats)."""
        grads: list[torch.Tensor | None] | None = None
        stats = []
        for lo, hi in spans:
            ci = idx[lo:hi]
            frames = batch.obs[ci].to(device, non_blocking=True)
            if aug is not None:  # DrAC: both in one pass; RAD: the augmented frames only
                frames = torch.cat([frames, aug[lo:hi]]) if drac else aug[lo:hi]
            with autocast_context(device, autocast):
                logits, value = model(preprocess(frames))
            if drac:
                n = hi - lo
                logits, aug_logits, value, aug_value = logits[:n], logits[n:], value[:n], value[n:]
            s = losses.ppo_loss(
                logits.float(), value.float(), batch.actions[ci].to(device), batch.logp[ci].to(device),
                batch.values[ci].to(device), batch.returns[ci].to(device), adv[lo:hi].to(device),
                clip_eps=cfg.clip_eps, value_clip_eps=vclip,
                value_coef=cfg.value_coef, entropy_coef=cfg.entropy_coef,
            )
            if drac:
                s.total = s.total + cfg.drac_coef * augment.drac_regulariser(
                    logits.float(), value.float(), aug_logits.float(), aug_value.float())
            if accumulate:
                (s.total / mb).backward()
            else:
                # a parameter the loss does not use (PPG's auxiliary value head) keeps gradient None, as
                # backward() leaves it, so that Adam skips it rather than move it by its old moments
                g = torch.autograd.grad(s.total / mb, params, allow_unused=True)
                grads = list(g) if grads is None else _add_grads(grads, g)
            stats.append(s.stats)
        return grads, stats

    for _ in range(cfg.num_epochs):
        perm = torch.randperm(B, device=batch.actions.device)
        for start in range(0, B, mb):
            idx = perm[start : start + mb]
            adv = minibatch_advantages(batch.advantages[idx], cfg)
            # drawn here, on the calling thread, so the offsets do not depend on the worker threads
            aug = (None if cfg.augment == "off"
                   else augment.random_shift(batch.obs[idx].to(device), cfg.augment_pad, cfg.augment))
            optimizer.zero_grad(set_to_none=True)
            spans = [(c, min(c + chunk, len(idx))) for c in range(0, len(idx), chunk)]
            groups = _deal(spans, workers if device.type == "cpu" else 1)
            if len(groups) == 1:
                results = [run_chunks(idx, adv, aug, spans, accumulate=True)]
            else:
                pool = _pool(len(groups))
                results = list(pool.map(partial(run_chunks, idx, adv, aug, accumulate=False), groups))
                total = results[0][0]
                for grads, _ in results[1:]:
                    total = _add_grads(total, grads)
                for p, g in zip(params, total):
                    p.grad = g
            chunk_stats.extend(stats for _, stats in results)
            grad_norms.append(nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm))
            optimizer.step()
    return _summarise(chunk_stats, grad_norms, B * cfg.num_epochs)


def _add_grads(total: list[torch.Tensor | None], more: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
    """``total`` += ``more``, parameter by parameter, where None is a gradient not taken."""
    return [b if a is None else a if b is None else a.add_(b) for a, b in zip(total, more)]


def value_clip_range(cfg: PPOConfig) -> float | None:
    """How far the value may move from the rollout's (``value_clip_eps``, or ``clip_eps`` for -1); None: unclipped."""
    if not cfg.use_clipped_value:
        return None
    return cfg.value_clip_eps if cfg.value_clip_eps > 0 else cfg.clip_eps


def minibatch_advantages(adv: torch.Tensor, cfg: PPOConfig) -> torch.Tensor:
    """A minibatch's advantages, normalised within it when ``cfg.normalize_advantages``."""
    return (adv - adv.mean()) / (adv.std() + 1e-8) if cfg.normalize_advantages else adv


def _summarise(chunk_stats: list[list[torch.Tensor]], grad_norms: list[torch.Tensor], n: int) -> dict[str, float]:
    """Means per sample and of the gradient norms, read from the device after the last minibatch (two copies).

    Sums are taken on the host in float64, chunk by chunk within each group and
    group by group, as the numbers were summed when they were read one by one."""
    rows = iter(torch.stack([t for group in chunk_stats for t in group]).tolist())
    sums = [0.0] * len(STAT_NAMES)
    for group in chunk_stats:
        part = [0.0] * len(STAT_NAMES)
        for _ in group:
            part = [a + b for a, b in zip(part, next(rows))]
        sums = [a + b for a, b in zip(sums, part)]
    norms = torch.stack(grad_norms).tolist()
    out = {k: v / n for k, v in zip(STAT_NAMES, sums)}
    out["grad_norm"] = sum(norms) / len(norms)
    return out


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _deal(spans: list[tuple[int, int]], workers: int) -> list[list[tuple[int, int]]]:
    """Contiguous groups of spans, one per worker (fewer if there are fewer spans)."""
    n = max(1, min(workers, len(spans)))
    return [spans[i * len(spans) // n : (i + 1) * len(spans) // n] for i in range(n)]


def _pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool whose threads each run torch on one core."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="ppo-update",
                                             initializer=torch.set_num_threads, initargs=(1,))
    return _POOLS[workers]
