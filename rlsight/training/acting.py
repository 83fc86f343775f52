"""One rollout step's acting as a single call: uint8 frames in, actions out.

Preprocessing, the forward pass (in chunks, under autocast) and sampling run in one
module, which ``torch.compile`` captures whole: on a GPU in mode reduce-overhead a
step is one CUDA-graph replay instead of a graph for the network and a dozen
eager kernels for sampling.

Sampling is Gumbel-max: ``argmax(log pi + g)`` with ``g`` standard Gumbel noise is
distributed as ``pi``. The noise for a whole rollout is drawn beforehand in one
call (``gumbel_noise``), so the step itself draws no random numbers, and chunked
and unchunked inference pick the same actions.

``PolicyStep`` wraps it for the collector: on a GPU the frames travel through a
pinned staging buffer, and the actions come back to the host in one copy.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rlsight.config import Config
from rlsight.ppo.precision import autocast_context


def gumbel_noise(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Standard Gumbel noise, ``-log(-log(u))`` for uniform ``u`` (kept above 0, so finite)."""
    u = torch.rand(shape, device=device).clamp_(min=torch.finfo(torch.float32).tiny)
    return u.log_().neg_().log_().neg_()


class Actor(nn.Module):
    """``model`` as the rollout uses it: ``actor(frames, noise)`` returns the sampled
    actions (int64, n) and ``(action, log-probability, value)`` packed as float32
    (n, 3), one row per environment, ready to store in one copy."""

    def __init__(self, model: nn.Module, *, chunk: int = 0, channels_last: bool = False, autocast: str = "off",
                 device: torch.device | None = None):
        super().__init__()
        self.model, self.chunk, self.channels_last = model, chunk, channels_last
        self.autocast, self.device = autocast, device or torch.device("cpu")

    def forward(self, frames: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        chunk = self.chunk or len(frames)
        logits, values = [], []
        with autocast_context(self.device, self.autocast):
            for i in range(0, len(frames), chunk):
                x = self.model.preprocess(frames[i : i + chunk])
                if self.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                lg, v = self.model(x)
                logits.append(lg.float())
                values.append(v.float())
        logp_all = torch.log_softmax(torch.cat(logits), -1)
        actions = torch.argmax(logp_all + noise, -1)
        logp = logp_all.gather(-1, actions[:, None]).squeeze(-1)
        return actions, torch.stack([actions.float(), logp, torch.cat(values)], -1)


def make_actor(model: nn.Module, device: torch.device, *, chunk: int = 0, channels_last: bool = False,
               autocast: str = "off", compile_mode: str = "off") -> nn.Module:
    """An ``Actor`` for ``model``, compiled whole in ``compile_mode`` unless that is "off".
    A rollout feeds it two or three batch sizes (a group with or without the held-out
    environments, all for the last values), so each gets a graph of its own."""
    actor = Actor(model, chunk=chunk, channels_last=channels_last, autocast=autocast, device=device)
    return actor if compile_mode == "off" else torch.compile(actor, mode=compile_mode, dynamic=False)


class PolicyStep:
    """The collector's acting step for ``model`` as ``cfg.train`` configures it
    (inference chunk, channels-last, autocast, compile)."""

    def __init__(self, cfg: Config, model: nn.Module, device: torch.device, inference_chunk: int = 0):
        self.device, self.num_actions = device, model.num_actions
        self.actor = make_actor(model, device, chunk=inference_chunk, channels_last=cfg.train.channels_last,
                                autocast=cfg.train.autocast, compile_mode=cfg.train.compile)
        self._staging: dict[tuple[int, ...], torch.Tensor] = {}  # pinned host buffers, one per frame shape

    def noise(self, steps: int, envs: int) -> torch.Tensor:
        """Gumbel noise for ``steps`` steps of ``envs`` environments, on the device."""
        return gumbel_noise((steps, envs, self.num_actions), self.device)

    def frames_to_device(self, parts: list[np.ndarray]) -> torch.Tensor:
        """The frames of ``parts`` (concatenated) on the device. On a GPU they go through
        a pinned buffer and an asynchronous copy; the buffer is written again only on
        a later call, after this one has waited for the GPU to return the actions."""
        if self.device.type != "cuda":
            return torch.from_numpy(parts[0] if len(parts) == 1 else np.concatenate(parts))
        shape = (sum(len(p) for p in parts), *parts[0].shape[1:])
        staging = self._staging.get(shape)
        if staging is None:
            staging = self._staging[shape] = torch.empty(shape, dtype=torch.uint8, pin_memory=True)
        host, i = staging.numpy(), 0
        for p in parts:
            host[i : i + len(p)] = p
            i += len(p)
        return staging.to(self.device, non_blocking=True)

    def __call__(self, parts: list[np.ndarray], noise: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, np.ndarray, torch.Tensor]:
        """(frames on the device, sampled actions on the host, the actor's (action,
        log-probability, value) rows on the device) for the frames of ``parts``;
        ``noise`` is the step's Gumbel noise (None: zeros, when only the values count).
        The rows may be overwritten by the next call (CUDA graphs): store them first."""
        x = self.frames_to_device(parts)
        if noise is None:
            noise = torch.zeros((len(x), self.num_actions), device=self.device)
        with torch.no_grad():
            actions, choices = self.actor(x, noise)
        return x, actions.cpu().numpy(), choices
