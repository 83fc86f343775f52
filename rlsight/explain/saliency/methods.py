"""Saliency methods with one call shape, in the spirit of Captum:
``method.attribute(frames, target="actor"|"critic")`` -> maps (N, C, H, W).

Frames are uint8 (N, 64, 64, 3) observations or float (N, 3, 64, 64) in [0, 1].
Maps are non-negative; C is 1 for methods that give one map per frame and 3 for
per-channel maps (gradients, per-channel perturbation), which the renderer
reduces with mean or max.

For gradient methods the actor's scalar is the logit of the action taken
(``actions``), or of the most likely action when none is given (``-logp``
methods: its log-probability, ``log_softmax``); the critic's is the value.

Action-specific perturbation scores (``perturbation-logp``, ``-prob``,
``-sarfa``; see ``perturbation``) are signed: the default maps keep the
contract by taking, for the actor, the positive part (regions whose blurring
lowers the chosen action's probability; SARFA is >= 0 by definition) and, for
the critic, the absolute change of the value. ``MethodOptions(signed=True)``
returns signed maps instead: the raw scores, gradients and integrated gradients
without absolute values, Grad-CAM without its ReLU (the L2 perturbation score
and SARFA are non-negative either way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from rlsight.errors import RlsightError
from rlsight.explain.saliency.options import MethodOptions
from rlsight.explain.saliency.perturbation import (
    CPU_CHUNKS,
    SCORES,
    TARGETS,
    ChannelsLastNetwork,
    PerturbedOutputs,
    fastest_network,
    gaussian_blur,
    inference_network,
    make_masks,
    perturbation_outputs,
    scores_from_outputs,
    upsample_scores,
)

METHODS = ("perturbation", "gradient", "smoothgrad", "integrated-gradients", "gradcam",
           "perturbation-logp", "perturbation-prob", "perturbation-sarfa", "gradient-logp",
           "integrated-gradients-logp")
PERTURBATION_SCORES = {"perturbation": "l2", "perturbation-logp": "logp", "perturbation-prob": "prob",
                       "perturbation-sarfa": "sarfa"}


def check_choice(kind: str, value: str, valid: Sequence[str]) -> str:
    """Raise a one-line error naming the valid choices."""
    if value not in valid:
        raise RlsightError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")
    return value


def methods_by_target(spec: str, targets: Sequence[str] = TARGETS) -> dict[str, str]:
    """{target: method} of a method spec: one method name for every target, or one per
    target, ``"actor=perturbation-sarfa,critic=integrated-gradients"``. Every target in
    ``targets`` must get a method; a bad name is a one-line error listing the valid ones."""
    if "=" not in spec:
        check_choice("method", spec, METHODS)
        return {t: spec for t in targets}
    named: dict[str, str] = {}
    for part in spec.split(","):
        target, _, method = (x.strip() for x in part.partition("="))
        check_choice("target in method spec", target, TARGETS)
        check_choice("method", method, METHODS)
        if target in named:
            raise RlsightError(f"method spec {spec!r} names target {target!r} twice")
        named[target] = method
    missing = [t for t in targets if t not in named]
    if missing:
        raise RlsightError(f"method spec {spec!r} names no method for {', '.join(missing)}; "
                           "give one method, or TARGET=METHOD for each target")
    return {t: named[t] for t in targets}


def as_float_frames(model: nn.Module, frames: torch.Tensor | object) -> torch.Tensor:
    """uint8 NHWC or float NCHW -> float NCHW in [0, 1] on the model's device."""
    x = torch.as_tensor(frames)
    device = next(model.parameters()).device
    x = x.to(device)
    if x.dtype == torch.uint8:
        return x.permute(0, 3, 1, 2).float().div_(255.0)
    return x.float()


class SaliencyMethod:
    """Base class: subclasses implement ``attribute``."""

    name = ""

    def __init__(self, model: nn.Module):
        self.model = model.eval()

    def attribute(self, frames, target: str = "actor", actions: torch.Tensor | None = None) -> torch.Tensor:
        """Maps (N, C, H, W) for ``target`` ("actor" or "critic") on ``frames`` (uint8
        NHWC or float NCHW); ``actions`` (N,), where given, are the actions to explain."""
        raise NotImplementedError

    def attribute_all(self, frames, targets: Sequence[str] = TARGETS,
                      actions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Maps for several targets: {target: (N, C, H, W)}."""
        return {t: self.attribute(frames, t, actions) for t in targets}


class Perturbation(SaliencyMethod):
    """Greydanus et al. (2018) perturbation saliency, vectorised (see ``perturbation``);
    ``score`` is one of ``perturbation.SCORES`` ("l2": the original's)."""

    name = "perturbation"

    def __init__(self, model: nn.Module, stride: int = 4, radius: float = 5.0, blur_sigma: float = 3.0,
                 per_channel: bool = False, chunk: int | None = None, optimize: bool = True,
                 score: str = "l2", signed: bool = False, stack_frame: int | None = None):
        super().__init__(model)
        self.stack_frame = stack_frame  # the one input channel (stacked frame) blurred; None = all
        check_choice("score", score, SCORES)
        self.score, self.signed = score, signed
        self.name = next(k for k, v in PERTURBATION_SCORES.items() if v == score)
        self.optimize = optimize
        self._network: nn.Module | None = None
        self._example: torch.Tensor | None = None  # a prepared frame, to trace another model's network
        self.stride, self.radius, self.blur_sigma = stride, radius, blur_sigma
        self.per_channel = per_channel
        device = next(model.parameters()).device
        self.chunk = chunk if chunk or device.type == "cpu" else 2048  # None on a CPU: measured
        self.outputs_cache: dict | None = None  # see share_outputs
        self._lazy: Callable[[], nn.Module] | None = None  # builds _network when first needed (for_model)

    def attribute(self, frames, target: str = "actor", actions: torch.Tensor | None = None) -> torch.Tensor:
        """Maps (N, C, H, W) for one target; see ``attribute_all``."""
        check_choice("target", target, TARGETS)
        return self.attribute_all(frames, (target,), actions)[target]

    def _prepare(self, x: torch.Tensor) -> None:
        """Pick the network and chunk size once: on a CPU the fastest of the measured candidates."""
        if not self.optimize:
            self._network, self.chunk = self.model, self.chunk or 128
        else:
            chunks = (self.chunk,) if self.chunk else CPU_CHUNKS
            self._network, self.chunk, _ = fastest_network(self.model, x[:1], chunks)
        self._example = x[:1]

    def share_outputs(self, cache: dict) -> Perturbation:
        """Keep the forward passes' outputs in ``cache`` (keyed by the weights, the frames and
        the mask settings) and reuse them: every score of the same model on the same frames
        then costs one set of passes. ``variant`` and ``for_model`` pass the cache on. Meant
        for a bounded job such as the faithfulness check; returns self."""
        self.outputs_cache = cache
        return self

    def for_model(self, model: nn.Module) -> Perturbation:
        """This method for another model of the same architecture, computed the same
        way (the network kind and chunk size this one picked), so that the two
        models' maps differ by their weights only, not by float rounding."""
        other = Perturbation(model, self.stride, self.radius, self.blur_sigma, self.per_channel, self.chunk,
                             self.optimize, self.score, self.signed, self.stack_frame)
        if self._network is None and self._lazy is not None:
            self._network = self._lazy()
        if self._network is None:
            return other
        if isinstance(self._network, ChannelsLastNetwork):
            other._network = ChannelsLastNetwork(model)
        elif self._network is self.model:
            other._network = model
        else:
            assert self._example is not None and self.chunk is not None  # set with _network
            example = self._example.expand(min(self.chunk, CPU_CHUNKS[0]), *self._example.shape[1:]).contiguous()
            other._lazy = lambda: inference_network(model, example)  # traced when first needed
        other._example = self._example
        other.outputs_cache = self.outputs_cache
        return other

    def variant(self, score: str, signed: bool) -> Perturbation:
        """This method with another score or sign on the same model, sharing the network and
        chunk size already picked (measured once, not again for every score)."""
        other = Perturbation(self.model, self.stride, self.radius, self.blur_sigma, self.per_channel, self.chunk,
                             self.optimize, score, signed, self.stack_frame)
        other._network, other._example, other._lazy = self._network, self._example, self._lazy
        other.outputs_cache = self.outputs_cache
        return other

    def attribute_all(self, frames, targets: Sequence[str] = TARGETS,
                      actions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Perturbation maps {target: (N, C, H, W)} (C = 1 unless ``per_channel``),
        all targets from one pass over the perturbed frames."""
        for t in targets:
            check_choice("target", t, TARGETS)
        x = as_float_frames(self.model, frames)
        size = (x.shape[2], x.shape[3])
        masks = make_masks(size, self.stride, self.radius).to(x.device)
        blurred = gaussian_blur(x, self.blur_sigma)
        if self.stack_frame is not None:  # blur one frame of the stack; the others stay as they are
            c = x.shape[1]
            check_stack_frame(self.stack_frame, c)
            keep = torch.ones(c, dtype=torch.bool, device=x.device)
            keep[self.stack_frame] = False
            blurred[:, keep] = x[:, keep]
        if self._network is None and self._lazy is None:
            self._prepare(x)
        assert self.chunk is not None  # set by _prepare
        s = scores_from_outputs(self._outputs(x, masks, blurred), tuple(targets), self.score, actions)
        out = {}
        for t, v in s.items():
            v = v if self.per_channel else v.unsqueeze(1)  # (N, C, K)
            m = upsample_scores(v, size, self.stride)
            if self.score == "l2" or (t == "actor" and (self.score == "sarfa" or not self.signed)):
                m = m.clamp_min(0)  # >= 0 by definition (float noise aside), or the positive part
            elif not self.signed:
                m = m.abs()  # the critic's signed value change: its size
            out[t] = m
        return out


    def _outputs(self, x: torch.Tensor, masks: torch.Tensor, blurred: torch.Tensor) -> PerturbedOutputs:
        """The forward passes on ``x``'s perturbed copies, from ``outputs_cache`` where it has them."""
        chunk = self.chunk
        assert chunk is not None

        def run() -> PerturbedOutputs:
            if self._network is None and self._lazy is not None:
                self._network = self._lazy()
            return perturbation_outputs(self.model, x, masks, blurred, self.per_channel, chunk,
                                        network=self._network)
        if self.outputs_cache is None:
            return run()
        key = self.outputs_key(self.model, x)
        out = self.outputs_cache.get(key)
        if out is None:
            out = self.outputs_cache[key] = run()
        return out

    def outputs_key(self, model: nn.Module, x: torch.Tensor) -> tuple:
        """Where ``share_outputs``' store keeps ``model``'s passes on float frames ``x``
        with this method's mask settings."""
        return (fingerprint(*model.parameters()), fingerprint(x), self.stride, self.radius, self.blur_sigma,
                self.per_channel, self.stack_frame)


def fingerprint(*tensors: torch.Tensor) -> str:
    """A digest of the tensors' shapes and contents (equal digests: equal tensors)."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class _Head(nn.Module):
    """The actor's logits (or log-probabilities) or the critic's value as a Captum forward function."""

    def __init__(self, model: nn.Module, target: str, logp: bool = False):
        super().__init__()
        self.model, self.target, self.logp = model, target, logp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits, value = self.model(x)
        if self.target == "critic":
            return value
        return logits.log_softmax(-1) if self.logp else logits


def check_stack_frame(stack_frame: int, channels: int) -> None:
    """A one-line error unless ``stack_frame`` names one of ``channels`` stacked frames."""
    if not -channels <= stack_frame < channels:
        raise RlsightError(f"stack frame {stack_frame}: the input has {channels} stacked frames; valid: "
                           f"{-channels}..{channels - 1} (-1 = newest)")


class _CaptumMethod(SaliencyMethod):
    """Shared plumbing for Captum's gradient attributions. With ``stack_frame`` (stacked
    frames, Atari) a map keeps the attribution to that frame of the stack only, the frame
    it is drawn over, as perturbation saliency blurs only that frame."""

    def __init__(self, model: nn.Module, chunk: int = 32, logp: bool = False, signed: bool = False,
                 stack_frame: int | None = None):
        super().__init__(model)
        self.chunk, self.logp, self.signed, self.stack_frame = chunk, logp, signed, stack_frame
        if logp:
            self.name = f"{self.name}-logp"

    def _attr(self, head: _Head, x: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _one_frame(self, maps: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) attributions to the input's channels -> (N, 1, H, W) of ``stack_frame``."""
        if self.stack_frame is None:
            return maps
        check_stack_frame(self.stack_frame, maps.shape[1])
        return maps[:, self.stack_frame].unsqueeze(1)

    def attribute(self, frames, target: str = "actor", actions: torch.Tensor | None = None) -> torch.Tensor:
        out = self._one_frame(torch.cat([self._attr(*a).detach() for a in self._chunks(frames, target, actions)]))
        self.model.zero_grad(set_to_none=True)
        return out if self.signed else out.abs()

    def _chunks(self, frames, target: str, actions: torch.Tensor | None):
        """(head, frames, actions) per chunk of ``chunk`` frames, for ``_attr``."""
        check_choice("target", target, TARGETS)
        x = as_float_frames(self.model, frames)
        head = _Head(self.model, target, self.logp)
        idx = None
        if target == "actor":
            if actions is None:
                with torch.no_grad():
                    idx = self.model(x)[0].argmax(-1)
            else:
                idx = torch.as_tensor(actions, device=x.device).long().reshape(-1)
        for s in range(0, x.shape[0], self.chunk):
            xi = x[s:s + self.chunk].clone().requires_grad_(True)
            yield head, xi, None if idx is None else idx[s:s + self.chunk]


class Gradient(_CaptumMethod):
    """Vanilla gradient |d f / d input| (Simonyan et al. 2014), Captum's Saliency."""

    name = "gradient"

    def _attr(self, head, x, target):
        from captum.attr import Saliency

        return Saliency(head).attribute(x, target=target, abs=not self.signed)


class SmoothGrad(_CaptumMethod):
    """Gradient averaged over noisy copies (Smilkov et al. 2017), Captum's NoiseTunnel."""

    name = "smoothgrad"

    def __init__(self, model: nn.Module, samples: int = 16, noise: float = 0.1, chunk: int = 32, seed: int = 0,
                 logp: bool = False, signed: bool = False, stack_frame: int | None = None):
        super().__init__(model, chunk, logp, signed, stack_frame)
        self.samples, self.noise, self.seed = samples, noise, seed

    def _attr(self, head, x, target):
        from captum.attr import NoiseTunnel, Saliency

        torch.manual_seed(self.seed)
        return NoiseTunnel(Saliency(head)).attribute(
            x, nt_type="smoothgrad", nt_samples=self.samples, nt_samples_batch_size=self.chunk,
            stdevs=self.noise, target=target, abs=not self.signed)

    def attribute_signed_and_drawn(self, frames, target: str = "actor",
                                   actions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(signed, drawn): the mean gradient and the mean |gradient| over the same noisy
        copies, from one set of gradient passes; each equals ``attribute`` with ``signed``
        True and False (the drawn map is not a function of the signed one)."""
        pairs = [self._attr_pair(*a) for a in self._chunks(frames, target, actions)]
        self.model.zero_grad(set_to_none=True)
        return self._one_frame(torch.cat([p[0] for p in pairs])), self._one_frame(torch.cat([p[1] for p in pairs]))

    def _attr_pair(self, head, x, target) -> tuple[torch.Tensor, torch.Tensor]:
        """NoiseTunnel's mean of |gradient|, with the signed gradients summed on the side
        exactly as NoiseTunnel sums them (per partition of samples, then * 1 / samples)."""
        from captum.attr import NoiseTunnel, Saliency

        sal = Saliency(head)
        plain = Saliency.attribute.__wrapped__  # undecorated, as NoiseTunnel calls it
        sums: list[torch.Tensor] = []

        def inner(method, inputs, abs=True, **kw):  # noqa: A002 (Captum's keyword)
            g = plain(method, inputs, abs=False, **kw)
            sums.append(g.view(x.shape[0], g.shape[0] // x.shape[0], *g.shape[1:]).sum(dim=1))
            return torch.abs(g)

        def wrapper(*a, **kw):
            return inner(sal, *a, **kw)
        wrapper.__wrapped__ = inner  # type: ignore[attr-defined]
        sal.attribute = wrapper
        torch.manual_seed(self.seed)
        drawn = NoiseTunnel(sal).attribute(
            x, nt_type="smoothgrad", nt_samples=self.samples, nt_samples_batch_size=self.chunk,
            stdevs=self.noise, target=target, abs=True)
        total = sums[0]
        for part in sums[1:]:
            total = total + part
        return (total * 1 / self.samples).detach(), drawn.detach()


class IntegratedGradients(_CaptumMethod):
    """Integrated gradients (Sundararajan et al. 2017), via Captum, from a black frame or
    (``baseline="blur"``) from the frame blurred with ``blur_sigma``, the baseline of
    perturbation saliency and of the deletion test."""

    name = "integrated-gradients"

    def __init__(self, model: nn.Module, samples: int = 32, chunk: int = 32, logp: bool = False,
                 signed: bool = False, baseline: str = "black", blur_sigma: float = 3.0, stack_frame: int | None = None):
        super().__init__(model, chunk, logp, signed, stack_frame)
        from rlsight.explain.saliency.options import IG_BASELINES

        self.samples, self.baseline, self.blur_sigma = samples, check_choice("ig_baseline", baseline, IG_BASELINES), \
            blur_sigma

    def _attr(self, head, x, target):
        from captum.attr import IntegratedGradients as IG

        base = torch.zeros_like(x) if self.baseline == "black" else gaussian_blur(x.detach(), self.blur_sigma)
        return IG(head).attribute(x, baselines=base, target=target, n_steps=self.samples,
                                  internal_batch_size=self.chunk * 4)


class GradCam(_CaptumMethod):
    """Grad-CAM on the encoder's last convolutional stage (Selvaraju et al. 2017), via Captum."""

    name = "gradcam"

    def _attr(self, head, x, target):
        from captum.attr import LayerAttribution, LayerGradCam

        layer = self.model.encoder.last_conv()
        a = LayerGradCam(head, layer).attribute(x, target=target, relu_attributions=not self.signed)
        return LayerAttribution.interpolate(a, (x.shape[2], x.shape[3]), interpolate_mode="bilinear")


def make_method(name: str, model: nn.Module, opts: MethodOptions | None = None) -> SaliencyMethod:
    """Build a method by name (one of ``METHODS``)."""
    check_choice("method", name, METHODS)
    o = opts or MethodOptions()
    if name in PERTURBATION_SCORES:
        return Perturbation(model, o.stride, o.radius, o.blur_sigma, o.per_channel, o.chunk,
                            score=PERTURBATION_SCORES[name], signed=o.signed, stack_frame=o.stack_frame)
    chunk = o.chunk or 32
    base = name.removesuffix("-logp")
    logp = base != name
    if base == "gradient":
        return Gradient(model, chunk, logp, o.signed, o.stack_frame)
    if base == "smoothgrad":
        return SmoothGrad(model, o.samples, o.noise, chunk, o.seed, logp, o.signed, o.stack_frame)
    if base == "integrated-gradients":
        return IntegratedGradients(model, o.samples, chunk, logp, o.signed, o.ig_baseline, o.blur_sigma, o.stack_frame)
    return GradCam(model, chunk, signed=o.signed)  # a map over the last conv stage: no frame of the stack apart
