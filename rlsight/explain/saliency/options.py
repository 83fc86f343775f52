"""The saliency defaults, defined once: the API (``make_method``, ``record``,
``RenderOptions``) and the CLI (``rlsight saliency``, ``saliency-check``) both read
them from here. Light on purpose (no torch), so the CLI can build its parser fast.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from rlsight.errors import RlsightError

CHANNEL_COLORS = ("red", "green", "blue")
CMAP_EXAMPLES = ("jet", "inferno", "magma", "viridis", "turbo", "hot")
REDUCTIONS = ("mean", "max")
NORMALIZATIONS = ("frame", "video")
BACKGROUNDS = ("render", "obs")
IG_BASELINES = ("black", "blur")


@dataclass
class MethodOptions:
    """Every method's settings; each method reads the ones it has."""

    stride: int = 4
    radius: float = 5.0
    blur_sigma: float = 3.0
    per_channel: bool = False
    samples: int = 16
    noise: float = 0.1
    chunk: int | None = None
    seed: int = 0
    signed: bool = False  # signed maps (no absolute value / positive part); see methods.py
    ig_baseline: str = "black"  # integrated gradients' baseline: "black" frame or "blur" (blur_sigma)
    # stacked frames (Atari): the one frame of the stack that perturbation blurs and gradient
    # methods attribute to (-1 = newest); None = every channel (Procgen's colours; an Atari
    # run then gets the newest, -1)
    stack_frame: int | None = None

    def for_family(self, family: str) -> MethodOptions:
        """These options for a run of ``family``: Atari's stacked frames default to the newest;
        a ``stack_frame`` for frames that are not stacked is a one-line error."""
        from dataclasses import replace

        if family == "atari":
            return self if self.stack_frame is not None else replace(self, stack_frame=-1)
        if self.stack_frame is not None:
            raise RlsightError(f"--stack-frame {self.stack_frame}: for runs whose frames are stacked (Atari); "
                               f"a {family} frame is one colour image")
        return self

    def validate(self) -> MethodOptions:
        """Raise a one-line RlsightError naming the first bad value; returns self."""
        for name, ok, allowed in (("stride", self.stride >= 1, ">= 1"), ("radius", self.radius > 0, "> 0"),
                                  ("blur-sigma", self.blur_sigma >= 0, ">= 0"), ("samples", self.samples >= 1, ">= 1"),
                                  ("noise", self.noise >= 0, ">= 0"),
                                  ("chunk", self.chunk is None or self.chunk >= 1, ">= 1")):
            if not ok:
                raise RlsightError(f"--{name} {getattr(self, name.replace('-', '_'))}: must be {allowed}")
        if self.ig_baseline not in IG_BASELINES:
            raise RlsightError(f"--ig-baseline {self.ig_baseline!r}: valid: {', '.join(IG_BASELINES)}")
        return self


# the MethodOptions that change a method's maps (the others change its speed, or belong to other methods)
_DRAWN_BY = {
    "perturbation": ("stride", "radius", "blur_sigma", "per_channel", "signed", "stack_frame"),
    "gradient": ("signed", "stack_frame"),
    "smoothgrad": ("samples", "noise", "seed", "signed", "stack_frame"),
    "integrated-gradients": ("samples", "ig_baseline", "signed", "stack_frame"),
    "gradcam": ("signed",),
}


def drawn_options(method: str, options: dict) -> tuple[str, ...]:
    """The keys of ``options`` (``MethodOptions`` as a dict) that change ``method``'s maps."""
    base = method.removesuffix("-logp")
    keys = _DRAWN_BY.get("perturbation" if base.startswith("perturbation") else base, ())
    if base == "integrated-gradients" and options.get("ig_baseline") == "blur":
        keys = (*keys, "blur_sigma")
    return keys


@dataclass
class RenderOptions:
    """How maps become pictures."""

    color: str = "red"  # red, green, blue or a matplotlib colour-map name
    intensity: float = 1.0  # channel overlays: added brightness at the map's maximum (1 = +255)
    alpha: float = 0.6  # colour-map overlays: opacity at the map's maximum
    sigma: float = 0.0  # Gaussian smoothing of the map, in observation pixels
    reduce: str = "max"  # over the map's channels: mean or max
    normalize: str = "frame"  # scale each map by its frame's maximum, or by the video's
    background: str = "render"  # the 512x512 Procgen render, or the 64x64 observation scaled up
    size: int = 384  # tile side in pixels
    panel: bool = True  # side panel with step, action, probabilities and value

    def validate(self) -> RenderOptions:
        """Raise a one-line RlsightError for a bad value; returns self."""
        valid_colors = (*CHANNEL_COLORS, "or a matplotlib colour map such as " + ", ".join(CMAP_EXAMPLES))
        if self.color not in CHANNEL_COLORS:
            import matplotlib

            if self.color not in matplotlib.colormaps:
                raise RlsightError(f"unknown colour {self.color!r}; valid: {', '.join(valid_colors)}")
        for kind, v, ok in (("channel reduction", self.reduce, REDUCTIONS),
                            ("normalisation", self.normalize, NORMALIZATIONS),
                            ("background", self.background, BACKGROUNDS)):
            if v not in ok:
                raise RlsightError(f"unknown {kind} {v!r}; valid: {', '.join(ok)}")
        if self.size < 32 or self.size % 16:
            raise RlsightError(f"tile size {self.size}: must be a multiple of 16, at least 32")
        if self.intensity <= 0 or not 0 < self.alpha <= 1 or self.sigma < 0:
            raise RlsightError("intensity must be > 0, alpha in (0, 1], sigma >= 0")
        return self


@dataclass(frozen=True)
class PlayOptions:
    """What ``record`` plays and draws by default (its keyword defaults come from here)."""

    level: int = 0
    frames: int = 32
    # per target, the method that met the most criteria over the survey of six original checkpoints (docs/saliency.md)
    method: str = "actor=perturbation-sarfa,critic=integrated-gradients"
    target: str = "both"
    mode: str = "own"
    seed: int = 0
    start: int = 0
    greedy: bool = False
    device: str = "cpu"


@dataclass(frozen=True)
class CheckOptions:
    """Defaults of the faithfulness check (``faithfulness.check.check_run``)."""

    frames: int = 256
    quick_frames: int = 64
    deletion_steps: int = 20
    cascade_steps: int = 6  # cascading randomisation: at most this many layer groups, top first
    blur_sigma: float = 3.0
    resamples: int = 1000
    confidence: float = 0.95
    stability_radius: float = 0.02
    stability_samples: int = 8
    stability_frames: int = 64  # max-sensitivity on the first this many of the checked frames (it costs samples x maps)
    quick_stability_frames: int = 16  # the same with quick
    seed: int = 0


PLAY = PlayOptions()
CHECK = CheckOptions()


def default(cls: type, name: str):
    """The default of field ``name`` of dataclass ``cls`` (for CLI help and defaults)."""
    for f in fields(cls):
        if f.name == name:
            return f.default
    raise KeyError(f"{cls.__name__} has no field {name!r}")
