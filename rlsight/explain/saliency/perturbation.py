"""Perturbation saliency (Greydanus et al. 2018), vectorised.

For each point of a grid with spacing ``stride``, a mask M is a disc of radius
``radius`` softened by a Gaussian blur (sigma ``radius / 2``) and scaled to a peak
of 1. The perturbed frame is ``I * (1 - M) + blur(I, blur_sigma) * M`` and the
score is ``0.5 * ||f(I) - f(I')||^2`` with f the policy logits (actor) or the
value (critic). Masks and blurred frames are built once as tensors; the (frame, mask) pairs
then go through the network in chunks of ``chunk`` inputs (perturbed frames
built by broadcasting, one frame's masks at a time),
and one forward pass serves the actor and the critic together.

Besides that score (``"l2"``), ``score`` picks an action-specific one, computed
from the same forward passes, with the chosen action a (``actions``, default the
most likely action on the intact frame) and f(I) computed once per frame:

- ``"logp"``: actor ``log p(a|I) - log p(a|I')``;
- ``"prob"``: actor ``1 - p(a|I') / p(a|I)`` (the relative drop of p(a));
- ``"sarfa"``: actor, SARFA (Puri et al., ICLR 2020, eq. 2): with
  ``dP = p(a|I) - p(a|I')`` (specificity) and ``K = 1 / (1 + KL(P'_rem || P_rem))``
  (relevance), where ``P_rem`` is the softmax over the other actions' logits, the
  score is their harmonic mean ``2 K dP / (K + dP)`` where ``dP > 0``, else 0. The
  KL puts the perturbed distribution first, as the paper's text does (below its
  eq. 2); the authors' released chess and Atari code compute ``KL(P_rem || P'_rem)``
  instead, which changes only the down-weighting factor K.
- critic, for all three: the signed change of the value ``v(I) - v(I')``.

These are signed (except SARFA's, which is >= 0): positive where blurring the
region lowers p(a) or the value.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from rlsight.errors import RlsightError

TARGETS = ("actor", "critic")
SCORES = ("l2", "logp", "prob", "sarfa")


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """Normalised 1-D Gaussian, cut at ``truncate`` sigmas."""
    r = max(1, int(truncate * sigma + 0.5))
    x = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).float()


def gaussian_blur(x: torch.Tensor, sigma: float, padding: str = "reflect") -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), every channel on its own.

    ``padding`` is ``"reflect"`` (image borders) or ``"zeros"``.
    """
    if sigma <= 0:
        return x
    n, c, h, w = x.shape
    k = gaussian_kernel1d(sigma).to(x.device, x.dtype)
    r = (k.numel() - 1) // 2
    y = x.reshape(n * c, 1, h, w)
    if padding == "reflect" and r < min(h, w):
        y = F.pad(y, (r, r, r, r), mode="reflect")
        pad = 0
    else:
        pad = r
    y = F.conv2d(y, k.view(1, 1, 1, -1), padding=(0, pad))
    y = F.conv2d(y, k.view(1, 1, -1, 1), padding=(pad, 0))
    return y.reshape(n, c, h, w)


def grid_shape(size: tuple[int, int], stride: int) -> tuple[int, int]:
    """Number of mask centres along each axis."""
    return math.ceil(size[0] / stride), math.ceil(size[1] / stride)


def grid_centres(n: int, stride: int) -> torch.Tensor:
    """Centre of each ``stride``-wide cell, so that bilinear upsampling of the
    score grid puts every score back on its own mask centre."""
    return torch.arange(n, dtype=torch.float32) * stride + (stride - 1) / 2


@lru_cache(maxsize=8)
def _masks_cpu(size: tuple[int, int], stride: int, radius: float) -> torch.Tensor:
    h, w = size
    gh, gw = grid_shape(size, stride)
    cy, cx = grid_centres(gh, stride), grid_centres(gw, stride)
    yy = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    xx = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    dy2 = (yy - cy.view(gh, 1, 1, 1)) ** 2  # (gh, 1, h, 1)
    dx2 = (xx - cx.view(1, gw, 1, 1)) ** 2  # (1, gw, 1, w)
    disc = ((dy2 + dx2) <= radius**2).float().reshape(gh * gw, 1, h, w)
    m = gaussian_blur(disc, radius / 2, padding="zeros")
    peak = m.amax(dim=(2, 3), keepdim=True).clamp_min(1e-12)
    return (m / peak).squeeze(1).contiguous()


def make_masks(size: tuple[int, int] = (64, 64), stride: int = 4, radius: float = 5.0) -> torch.Tensor:
    """(K, H, W) masks in [0, 1], one per grid point, row-major over the grid."""
    if stride < 1:
        raise ValueError(f"stride {stride}: must be >= 1")
    if radius <= 0:
        raise ValueError(f"radius {radius}: must be > 0")
    return _masks_cpu(tuple(size), int(stride), float(radius)).clone()


def inference_network(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """A copy of ``model`` for batched inference on the CPU: traced, frozen and
    optimised for oneDNN (fused convolutions in a blocked layout), which is several
    times faster for IMPALA batches; the model itself when that fails or on a GPU.
    Outputs agree with ``model`` to float precision."""
    if example.device.type != "cpu":
        return model
    import warnings

    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model, example, check_trace=False)
            fast = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
            fast(example[:1])  # fails here, rather than later, if the graph cannot run
        return fast
    except Exception:  # an untraceable network: fall back to eager mode
        return model


class ChannelsLastNetwork(nn.Module):
    """An eager copy of ``model`` with its weights in channels-last (NHWC) layout;
    ``perturbation_scores`` then builds its batches in that layout. For small
    networks with large batches this beats the frozen oneDNN graph on some CPUs
    (Nature-DQN here)."""

    channels_last = True

    def __init__(self, model: nn.Module):
        super().__init__()
        # Module.to accepts memory_format at runtime (documented) but torch's stubs omit it.
        self.model = copy.deepcopy(model).eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The wrapped model's output for ``x`` (NCHW or channels-last)."""
        return self.model(x)


CPU_CHUNKS = (32, 64, 128, 256)


def fastest_network(model: nn.Module, frame: torch.Tensor, chunks: Sequence[int] = CPU_CHUNKS,
                    repeats: int = 2, samples: int = 384) -> tuple[nn.Module, int, dict]:
    """Times the CPU candidates (``inference_network``'s frozen oneDNN graph and a
    ``ChannelsLastNetwork``) at each chunk size on perturbed copies of ``frame``
    (1, C, H, W) and returns (network, chunk, {(name, chunk): inputs/s}). The best
    layout and chunk size differ between networks and CPUs, so they are measured;
    every candidate gives the same outputs to float precision. On a GPU: the
    model itself and the largest chunk, untimed."""
    if frame.device.type != "cpu":
        return model, max(chunks), {}
    frame = frame[:1].float()
    masks = make_masks((frame.shape[2], frame.shape[3]), max(1, frame.shape[2] // 16), 5.0)
    diff = gaussian_blur(frame, 3.0) - frame
    idx = torch.arange(max(chunks)) % masks.shape[0]
    pool = torch.addcmul(frame, diff, masks[idx].unsqueeze(1))
    frozen = inference_network(model, pool[: chunks[0]])
    candidates = {"oneDNN graph": frozen, "channels-last": ChannelsLastNetwork(model)}
    if frozen is model:
        candidates["eager"] = candidates.pop("oneDNN graph")
    rates: dict[tuple[str, int], float] = {}
    with torch.inference_mode():
        for name, net in candidates.items():
            top = 0.0
            for c in sorted(chunks):
                x = pool[:c]
                if getattr(net, "channels_last", False):
                    x = x.contiguous(memory_format=torch.channels_last)
                net(x)  # warm-up: graph specialisation, oneDNN primitives
                n = max(1, samples // c)
                t = float("inf")
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    for _ in range(n):
                        net(x)
                    t = min(t, time.perf_counter() - t0)
                rates[(name, c)] = rate = n * c / t
                if rate < 0.9 * top:  # past this network's best chunk size
                    break
                top = max(top, rate)
    name, chunk = max(rates, key=lambda k: rates[k])
    return candidates[name], chunk, rates


def _perturbed(f: torch.Tensor, d: torch.Tensor, m: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``f + d * m`` broadcast to a batch (B, C, H, W); with ``channels_last`` the
    arguments are NHWC and the result is an NCHW view of an NHWC batch."""
    x = torch.addcmul(f, d, m)
    x = x.reshape(-1, *x.shape[-3:])
    return x.permute(0, 3, 1, 2) if channels_last else x


def _outputs(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logits, value = model(x)
    return logits.float(), value.float().reshape(-1)


class Reference:
    """What the scores need from the intact frames, computed once per frame: logits
    (N, A), value (N,), the chosen action (N, 1), its log-probability (N, 1), and for
    SARFA the log-softmax over the other actions (N, A; -inf at the chosen one)."""

    def __init__(self, out: tuple[torch.Tensor, torch.Tensor], actions: torch.Tensor | None, score: str):
        if score not in SCORES:
            raise RlsightError(f"unknown score {score!r}; valid: {', '.join(SCORES)}")
        self.logits, self.value = out
        self.score = score
        self.action: torch.Tensor | None = None
        self.logp: torch.Tensor | None = None
        self.log_rem: torch.Tensor | None = None
        if score == "l2":
            return
        a = self.logits.argmax(-1) if actions is None else torch.as_tensor(actions).to(self.logits.device)
        self.action = a.long().reshape(-1, 1)
        if self.action.shape[0] != self.logits.shape[0]:
            raise RlsightError(f"actions: {self.action.shape[0]} for {self.logits.shape[0]} frames")
        self.logp = self.logits.log_softmax(-1).gather(1, self.action)  # (N, 1)
        self.log_rem = _log_rem(self.logits, self.action) if score == "sarfa" else None

    def rows(self, i: int, j: int, repeats: int = 1) -> Reference:
        """Frames i..j, each repeated ``repeats`` times (rows of a batch)."""
        r = copy.copy(self)
        for k in ("logits", "value", "action", "logp", "log_rem"):
            v = getattr(self, k)
            if v is not None:
                v = v[i:j]
                setattr(r, k, v.repeat_interleave(repeats, 0) if repeats > 1 else v)
        return r


def _log_rem(logits: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Log-softmax over every action but ``action`` (N, 1); -inf at ``action``."""
    return logits.scatter(1, action, float("-inf")).log_softmax(-1)


def _scores(out: tuple[torch.Tensor, torch.Tensor], ref: Reference,
            targets: Sequence[str]) -> dict[str, torch.Tensor]:
    s = {}
    if ref.score == "l2":
        if "actor" in targets:
            s["actor"] = 0.5 * (out[0] - ref.logits).pow(2).sum(-1)
        if "critic" in targets:
            s["critic"] = 0.5 * (out[1] - ref.value).pow(2)
        return s
    if "critic" in targets:
        s["critic"] = ref.value - out[1]
    if "actor" in targets:
        assert ref.action is not None and ref.logp is not None
        action = ref.action.expand(out[0].shape[0], 1)  # one frame's reference broadcasts over its masks
        logp = out[0].log_softmax(-1).gather(1, action)  # (B, 1)
        if ref.score == "logp":
            s["actor"] = (ref.logp - logp).squeeze(1)
        elif ref.score == "prob":
            s["actor"] = -torch.expm1(logp - ref.logp).squeeze(1)
        else:  # sarfa
            assert ref.log_rem is not None
            dp = (ref.logp.exp() - logp.exp()).squeeze(1)
            log_rem = _log_rem(out[0], action)
            p_rem = log_rem.exp()
            terms = p_rem * (log_rem - ref.log_rem)
            kl = torch.where(p_rem > 0, terms, torch.zeros_like(terms)).sum(-1)
            k = 1.0 / (1.0 + kl)
            s["actor"] = torch.where(dp > 0, 2 * k * dp / (k + dp), torch.zeros_like(dp))
    return s


def perturbation_scores(model: nn.Module, frames: torch.Tensor, masks: torch.Tensor,
                        blurred: torch.Tensor | None = None, targets: Sequence[str] = TARGETS,
                        per_channel: bool = False, chunk: int = 32, blur_sigma: float = 3.0,
                        network: nn.Module | None = None, score: str = "l2",
                        actions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Scores on the mask grid, batched.

    frames: float (N, C, H, W) in [0, 1]; masks: (K, H, W). Returns, per target,
    (N, K) scores, or (N, C, K) with ``per_channel`` (each channel perturbed on
    its own). ``network`` is what runs the batches (default: ``model`` itself;
    ``inference_network(model, ...)`` is faster on the CPU). ``score`` is one of
    ``SCORES`` (module docstring); ``actions`` (N,) the chosen actions for the
    action-specific scores (default: each frame's most likely action).
    """
    if score not in SCORES:
        raise RlsightError(f"unknown score {score!r}; valid: {', '.join(SCORES)}")
    out = perturbation_outputs(model, frames, masks, blurred, per_channel, chunk, blur_sigma, network)
    return scores_from_outputs(out, targets, score, actions)


@dataclass
class PerturbedOutputs:
    """The network's outputs on intact frames (``logits`` (N, A), ``value`` (N,)) and on
    their perturbed copies (``p_logits`` (N, P, A), ``p_value`` (N, P); P masks, times
    C with ``per_channel``): everything every score needs, from one set of forward passes."""

    logits: torch.Tensor
    value: torch.Tensor
    p_logits: torch.Tensor
    p_value: torch.Tensor
    shape: tuple[int, ...]  # the scores' shape: (N, K) or (N, C, K)


def perturbation_outputs(model: nn.Module, frames: torch.Tensor, masks: torch.Tensor,
                         blurred: torch.Tensor | None = None, per_channel: bool = False, chunk: int = 32,
                         blur_sigma: float = 3.0, network: nn.Module | None = None) -> PerturbedOutputs:
    """The forward passes of ``perturbation_scores`` (same arguments), without scoring:
    (frame, mask) pairs go through ``network`` in chunks of ``chunk`` inputs."""
    net = network if network is not None else model
    return perturbation_outputs_many(lambda x: [_outputs(net, x)], frames, masks, blurred, per_channel, chunk,
                                     blur_sigma, getattr(net, "channels_last", False))[0]


def perturbation_outputs_many(run: Callable[[torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]],
                              frames: torch.Tensor, masks: torch.Tensor, blurred: torch.Tensor | None = None,
                              per_channel: bool = False, chunk: int = 32, blur_sigma: float = 3.0,
                              channels_last: bool = False) -> list[PerturbedOutputs]:
    """``perturbation_outputs`` of several models at once: ``run`` maps a batch to every
    model's (logits, value), in a fixed order (e.g. ``faithfulness.stages.CascadeRunner``,
    which computes the layers the models share once per batch); one ``PerturbedOutputs``
    per model, from the same perturbed batches."""
    n, c, h, w = frames.shape
    k = masks.shape[0]
    m = masks.to(frames.device, frames.dtype).unsqueeze(1)  # (K, 1, H, W): all channels at once
    if per_channel:  # (C*K, C, H, W): mask j*K + i perturbs channel j only
        eye = torch.eye(c, device=frames.device, dtype=frames.dtype).view(c, 1, c, 1, 1)
        m = (eye * m.unsqueeze(0)).reshape(c * k, c, h, w)
    if blurred is None:
        blurred = gaussian_blur(frames, blur_sigma)
    diff = blurred - frames  # I' = I + (blur(I) - I) * M
    per_frame = m.shape[0]
    cl = channels_last
    if cl:  # build the batches in NHWC, which the network reads without a copy
        fr, diff, m = (t.permute(0, 2, 3, 1).contiguous() for t in (frames, diff, m))
    else:
        fr = frames
    with torch.inference_mode():
        intact = run(frames)
        p_logits = [torch.empty(n, per_frame, lo.shape[-1], device=frames.device) for lo, _ in intact]
        p_value = [torch.empty(n, per_frame, device=frames.device) for _ in intact]
        if per_frame >= chunk:  # slices of one frame's masks: broadcasting, no gathers
            for i in range(n):
                for s in range(0, per_frame, chunk):
                    x = _perturbed(fr[i:i + 1], diff[i:i + 1], m[s:s + chunk], cl)
                    for pl, pv, (lo, v) in zip(p_logits, p_value, run(x)):
                        pl[i, s:s + chunk], pv[i, s:s + chunk] = lo, v
        else:  # several whole frames per chunk
            g = max(1, chunk // per_frame)
            for i in range(0, n, g):
                j = min(n, i + g)
                outs = run(_perturbed(fr[i:j, None], diff[i:j, None], m[None], cl))
                for pl, pv, (lo, v) in zip(p_logits, p_value, outs):
                    pl[i:j] = lo.reshape(j - i, per_frame, -1)
                    pv[i:j] = v.reshape(j - i, per_frame)
    shape = (n, c, k) if per_channel else (n, k)
    return [PerturbedOutputs(lo, v, pl, pv, shape) for (lo, v), pl, pv in zip(intact, p_logits, p_value)]


def scores_from_outputs(out: PerturbedOutputs, targets: Sequence[str] = TARGETS, score: str = "l2",
                        actions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """``perturbation_scores``' result from its forward passes (``perturbation_outputs``):
    one set of passes serves every score."""
    n, p, a = out.p_logits.shape
    with torch.inference_mode():
        ref = Reference((out.logits, out.value), actions, score).rows(0, n, p)
        sc = _scores((out.p_logits.reshape(n * p, a), out.p_value.reshape(n * p)), ref, targets)
    return {t: sc[t].reshape(out.shape) for t in targets}


def loop_scores(model: nn.Module, frames: torch.Tensor, masks: torch.Tensor,
                blurred: torch.Tensor | None = None, targets: Sequence[str] = TARGETS,
                blur_sigma: float = 3.0, score: str = "l2",
                actions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Reference: one forward pass per (frame, mask), all channels perturbed.

    Masks and blurred frames are precomputed and float32; returns (N, K) per target.
    """
    n, k = frames.shape[0], masks.shape[0]
    if blurred is None:
        blurred = gaussian_blur(frames, blur_sigma)
    out = {t: torch.empty(n, k) for t in targets}
    with torch.inference_mode():
        for i in range(n):
            img, blur = frames[i:i + 1], blurred[i:i + 1]
            ref = Reference(_outputs(model, img), None if actions is None else actions[i:i + 1], score)
            for j in range(k):
                m = masks[j]
                s = _scores(_outputs(model, img * (1 - m) + blur * m), ref, targets)
                for t in targets:
                    out[t][i, j] = s[t][0]
    return out


def upsample_scores(scores: torch.Tensor, size: tuple[int, int], stride: int) -> torch.Tensor:
    """(..., K) grid scores -> (..., H, W) maps, bilinear between mask centres."""
    gh, gw = grid_shape(size, stride)
    lead = scores.shape[:-1]
    g = scores.reshape(-1, 1, gh, gw)
    up = F.interpolate(g, size=(gh * stride, gw * stride), mode="bilinear", align_corners=False)
    return up[..., : size[0], : size[1]].reshape(*lead, *size)
