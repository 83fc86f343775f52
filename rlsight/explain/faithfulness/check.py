"""The faithfulness check of one run: every method x target scored on the run's state dataset.

For each saliency method and target (actor: the probability of the action the
policy took; critic: the value) this measures, on the same frames:

- model randomisation (Adebayo et al. 2018), cascading from the top block
  (``quick``: the top block only): rank correlation of the trained model's maps
  with the randomised model's, with and without absolute values, over all pixels
  and over the pixels where either map is nonzero;
- deletion and insertion AUC (pixels blurred or revealed in the map's order) and
  their ratio to a random order's;
- two baselines on the deletion test: a Sobel edge map (knows nothing of the model)
  and, with ``other``, the same method's map computed on another model;
- stability: max-sensitivity under small input noise;
- fps: frames per second of the method (all checked targets together).

Every figure carries a bootstrap confidence interval over frames. ``verdict``
turns three criteria into "faithful" / "weak" / "fails" (docs/saliency.md).
The result is stored in ``RUN/explain/faithfulness.json``, merged per method and
target with what is stored already.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlsight import __version__
from rlsight.errors import RlsightError
from rlsight.explain.faithfulness.deletion import Curves
from rlsight.explain.faithfulness.stages import prefill_cascade
from rlsight.explain.saliency.methods import (
    METHODS,
    PERTURBATION_SCORES,
    MethodOptions,
    Perturbation,
    SaliencyMethod,
    SmoothGrad,
    check_choice,
    make_method,
)
from rlsight.explain.saliency.options import CHECK, CheckOptions
from rlsight.explain.saliency.perturbation import TARGETS
from rlsight.explain.states import (
    DEFAULT_STATES,
    States,
    StatesSpec,
    check_game,
    load_or_record_states,
)
from rlsight.explain.verdicts import (
    CORRELATION_LIMIT,
    CRITERIA,
    MAPS_VERSION,
    RESULT_FORMAT,
    load_results,
    result_path,
)
from rlsight.runs import RunDir
from rlsight.runs.atomic import atomic_write_text
from rlsight.shift import apply_shift

VERDICTS = ("faithful", "weak", "fails")


# -- small pure pieces ----------------------------------------------------------------------
def interval(values: object, opts: CheckOptions = CHECK, seed: int = 0) -> dict:
    """Bootstrap CI over frames as ``{mean, low, high, n}``; NaNs (e.g. constant maps) are
    left out; all-NaN gives NaNs and n 0."""
    from rlsight.explain.faithfulness.bootstrap import bootstrap_ci

    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "n": 0}
    ci = bootstrap_ci(v, n_resamples=opts.resamples, confidence=opts.confidence, seed=seed)
    return {"mean": float(ci.mean), "low": float(ci.low), "high": float(ci.high), "n": int(v.size)}


def below(a: dict | None, b: dict | None) -> bool | None:
    """True when interval ``a`` lies entirely below ``b``; None when either is missing."""
    if a is None or b is None:
        return None
    return bool(a["high"] < b["low"])  # NaN compares False


def verdict(criteria: dict[str, bool | None]) -> dict:
    """"faithful" when every checked criterion holds, "fails" when none does, "weak"
    otherwise. A criterion that is None (not checked: no other model) is left out,
    and ``label`` says which were checked."""
    checked = {k: v for k, v in criteria.items() if v is not None}
    met = [k for k, v in checked.items() if v]
    word = "fails" if not met else "faithful" if len(met) == len(checked) else "weak"
    missing = [k for k in criteria if criteria[k] is None]
    label = word if not missing else f"{word} (on {', '.join(checked)}; {', '.join(missing)} not checked)"
    return {"verdict": word, "label": label, "met": met, "checked": list(checked)}


def ratio_interval(a: object, b: object, opts: CheckOptions = CHECK, seed: int = 0) -> dict:
    """mean(a) / mean(b) over the frames where both are finite, with a paired percentile
    bootstrap CI over frames (the frames resampled together for a and b). A ratio of
    means, not a mean of per-frame ratios, which frames with a near-zero random AUC
    would dominate."""
    a0, b0 = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    ok = np.isfinite(a0) & np.isfinite(b0)
    x, y = a0[ok], b0[ok]
    nan = {"mean": math.nan, "low": math.nan, "high": math.nan, "n": int(x.size)}
    if x.size == 0 or y.mean() == 0:
        return nan
    mean = float(x.mean() / y.mean())
    if x.size < 2 or (np.all(x == x[0]) and np.all(y == y[0])):
        return {**nan, "mean": mean, **({"low": mean, "high": mean} if x.size >= 2 else {})}
    from scipy.stats import bootstrap

    def stat(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return p.mean(axis) / q.mean(axis)

    res = bootstrap((x, y), stat, paired=True, vectorized=True, n_resamples=opts.resamples,
                    confidence_level=opts.confidence, method="percentile", random_state=np.random.default_rng(seed))
    ci = res.confidence_interval
    return {"mean": mean, "low": float(ci.low), "high": float(ci.high), "n": int(x.size)}


def _np(x: object) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


# -- the check ----------------------------------------------------------------------------
def check_methods(methods: Sequence[str] | None) -> list[str]:
    """The methods to check (default: every one), each validated."""
    out = list(methods) if methods else list(METHODS)
    for m in out:
        check_choice("method", m, METHODS)
    return out


def check_run(run: str | Path | RunDir, methods: Sequence[str] | None = None, targets: Sequence[str] = TARGETS,
              other: str | Path | RunDir | None = None, frames: int | None = None, quick: bool = False,
              method_options: MethodOptions | None = None, opts: CheckOptions = CHECK, device: str = "cpu",
              spec: StatesSpec = DEFAULT_STATES, save: bool = True,
              say: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
              env_set: Sequence[str] | None = None) -> dict:
    """Score every method x target on the run's state dataset (recorded first when
    missing); returns the result dict and, with ``save``, merges it into
    ``RUN/explain/faithfulness.json``. ``env_set`` scores them on states played under a
    distribution shift (``["env.game_mode=1"]``, as ``rlsight evaluate --set``), stored
    apart (``faithfulness-game_mode=1.json``), where saliency pictures drawn under the
    same shift find them."""
    from rlsight.runs.load import load_policy

    names = check_methods(methods)
    for t in targets:
        check_choice("target", t, TARGETS)
    n = frames or (opts.quick_frames if quick else opts.frames)
    rd = run if isinstance(run, RunDir) else RunDir.open(run)
    model, cfg, step = load_policy(rd, device)
    mopts = (method_options or MethodOptions()).for_family(cfg.env.family)  # Atari: the newest frame of the stack
    other_rd = None
    if other is not None:  # fail before the slow part
        other_rd = other if isinstance(other, RunDir) else RunDir.open(other)
        og = other_rd.config().env.game
        if og != cfg.env.game:
            raise RlsightError(f"--other {other_rd.name} was trained on {og}, {rd.name} on {cfg.env.game}; "
                               "the other-model baseline needs a model of the same game")
    shift = apply_shift(cfg, list(env_set or []), plays="train", levels_option=False)[1]  # a bad key fails before the slow part
    states = load_or_record_states(rd, spec, device, say, env_set).subset(n)
    check_game(states.game, cfg.env.game, f"run {rd.name}")
    other_model = load_policy(other_rd, device)[0] if other_rd is not None else None
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    results = score_methods(model, states, names, targets, other_model, quick, mopts, opts, say, timings)
    settings = {"frames": n, "quick": quick, "randomisation": "top block" if quick else "cascade per block",
                "deletion_steps": opts.deletion_steps, "blur_sigma": opts.blur_sigma,
                "bootstrap_resamples": opts.resamples, "confidence": opts.confidence,
                "stability": {"radius": opts.stability_radius, "samples": opts.stability_samples,
                              "frames": min(n, opts.quick_stability_frames if quick else opts.stability_frames)},
                "seed": opts.seed, "method_options": dataclasses.asdict(mopts), "maps": MAPS_VERSION,
                "torch_threads": torch.get_num_threads(),
                "states": {k: states.meta.get(k) for k in ("levels", "steps", "seed", "first_level", "frames")},
                "other": None if other_rd is None else str(other_rd.path)}
    out = {"format": RESULT_FORMAT, "run": str(rd.path), "game": cfg.env.game, "encoder": cfg.model.encoder,
           "model_step": step, "shift": shift, "other": None if other_rd is None else {
               "run": str(other_rd.path), "encoder": other_rd.config().model.encoder},
           "settings": settings, "criteria": CRITERIA, "rlsight_version": __version__,
           "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(time.perf_counter() - t0, 1),
           "seconds_by_part": {k: round(v, 1) for k, v in timings.items()},
           "results": results}
    if save:
        store(rd, out)
    return out


def critic_key(name: str) -> str:
    """Methods with the same key draw the same critic maps (the ``-logp`` variants change
    the actor's scalar only; the action-specific perturbation scores all take the signed
    value change for the critic), so the check scores those maps once."""
    if PERTURBATION_SCORES.get(name, "l2") != "l2":
        return "perturbation-value-change"
    return name.removesuffix("-logp")


def score_methods(model: torch.nn.Module, states: States, names: Sequence[str], targets: Sequence[str],
                  other_model: torch.nn.Module | None, quick: bool, mopts: MethodOptions,
                  opts: CheckOptions = CHECK, say: Callable[[str], None] = lambda m: None,
                  timings: dict[str, float] | None = None) -> dict:
    """{method: {target: measures}} on ``states`` (see the module docstring).

    Each method's maps of the trained model are computed once, signed; the drawn
    (default) maps are derived from them where the method allows (``drawn_from_signed``),
    and the randomisation check reuses them. Perturbation methods share one network,
    picked once per model, and one set of forward passes per model and frames (every
    score comes from the same perturbed outputs). Critic maps that several methods
    share (``critic_key``) are scored once and the entry copied. ``fps`` counts the
    time a method would take alone: a perturbation method's share of the shared
    passes is all of them. ``timings``, where given, gets the seconds spent per part
    (maps, the other model's maps, randomisation, stability, deletion/insertion).
    """
    from rlsight.explain.faithfulness.baselines import edge_maps, random_maps

    clock = timings if timings is not None else {}

    @contextlib.contextmanager
    def part(name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            clock[name] = clock.get(name, 0.0) + time.perf_counter() - t0

    frames = torch.from_numpy(states.obs)
    actions = torch.from_numpy(states.actions)
    with part("deletion"):
        curves_fn = _curves_fn(model, frames, actions, opts)

    def curves(*a: Any) -> dict[str, Curves]:
        with part("deletion"):
            return curves_fn(*a)
    base = {"random": random_maps(frames, opts.seed), "edge": edge_maps(frames)}
    base_curves = {"random": curves(base["random"], targets), "edge": curves(base["edge"], targets, False)}
    signed_opts = dataclasses.replace(mopts, signed=True)
    cache: dict[int, Perturbation] = {}
    shared: dict = {}  # the perturbation methods' forward passes, keyed by weights and frames
    critic_done: dict[str, tuple[dict, float]] = {}  # critic_key -> (entry, seconds of its maps)
    pass_seconds: dict[int, float] = {}  # per model: the perturbation passes' time (the first method's)
    out: dict = {}
    for name in names:
        say(f"checking {name} on {len(frames)} frames ...")
        reuse = "critic" in targets and critic_key(name) in critic_done
        todo = [t for t in targets if not (t == "critic" and reuse)]
        if not todo:  # the critic alone, scored already for a method that draws the same maps
            entry, secs = critic_done[critic_key(name)]
            out[name] = {"critic": {**entry, "fps": round(len(frames) / max(secs, 1e-9), 2)}}
            continue
        signed_method = _method(name, model, signed_opts, cache, shared)
        seconds = {t: 0.0 for t in todo}
        pair: dict[str, torch.Tensor] = {}  # drawn maps computed with the signed ones
        if name in PERTURBATION_SCORES:  # one set of passes for every target (and score)
            t0 = time.perf_counter()
            # the trained model's passes and the cascade's, the unchanged lower layers run once
            assert isinstance(signed_method, Perturbation)
            trained_s = prefill_cascade(signed_method, model, frames, opts.cascade_steps, opts.seed,
                                        1 if quick else None)
            if trained_s is not None:  # the rest of that time is the randomisation's
                clock["randomisation"] = clock.get("randomisation", 0.0) + time.perf_counter() - t0 - trained_s
                t0 = time.perf_counter() - trained_s
            signed = signed_method.attribute_all(frames, todo, actions)
            seconds = dict.fromkeys(todo, (time.perf_counter() - t0) / len(todo))
        else:
            signed = {}
            for t in todo:
                t0 = time.perf_counter()
                if isinstance(signed_method, SmoothGrad) and not mopts.signed:  # both maps from one set of passes
                    signed[t], pair[t] = signed_method.attribute_signed_and_drawn(frames, t, actions)
                else:
                    signed[t] = signed_method.attribute(frames, t, actions)
                seconds[t] = time.perf_counter() - t0
        method = _method(name, model, mopts, cache, shared)  # after the first call: shares its network
        drawn = {t: signed[t] if mopts.signed else pair[t] if t in pair else drawn_from_signed(name, t, signed[t])
                 for t in todo}
        maps = {t: m for t, m in drawn.items() if m is not None}
        for t in [t for t in todo if t not in maps]:  # the drawn maps are not a function of the signed ones
            t0 = time.perf_counter()
            maps[t] = method.attribute(frames, t, actions)
            seconds[t] += time.perf_counter() - t0
        if name in PERTURBATION_SCORES:  # the passes' time, whichever method ran them
            total = pass_seconds.setdefault(id(model), sum(seconds.values()))
        else:
            total = sum(seconds.values()) + (critic_done[critic_key(name)][1] if reuse else 0.0)
        clock["maps"] = clock.get("maps", 0.0) + sum(seconds.values())
        fps = len(frames) / max(total, 1e-9)
        other_maps = None
        if other_model is not None:
            with part("other model's maps"):
                other_maps = _method(name, other_model, mopts, cache, shared).attribute_all(frames, todo, actions)
        with part("randomisation"):
            cascade = _randomisation(model, frames, signed_method, signed, todo, mopts, actions, quick, opts)
        with part("stability"):
            # the maps of the intact frames are those above, except SmoothGrad's (its noise is
            # drawn per batch, so a subset of the frames gets other noise)
            stability = _stability(method, frames, todo, actions, opts, quick,
                                   None if name.startswith("smoothgrad") else maps)
        out[name] = {}
        for t in todo:
            rnd, edge = base_curves["random"][t], base_curves["edge"][t]
            own = curves(maps[t], (t,))[t]
            entry = {
                "deletion": _auc(own, rnd, "deletion", opts),
                "insertion": _auc(own, rnd, "insertion", opts),
                "random": {"deletion_auc": interval(rnd.deletion_auc, opts),
                           "insertion_auc": interval(rnd.insertion_auc, opts)},
                "edge": _auc(edge, rnd, "deletion", opts),
                "other": "n/a" if other_maps is None else _auc(curves(other_maps[t], (t,), False)[t], rnd,
                                                                "deletion", opts),
                "randomisation": cascade[t],
                "stability": stability[t],
                "fps": round(fps, 2),
            }
            other_auc = None if entry["other"] == "n/a" else entry["other"]["auc"]
            crit = {"a": _below_limit(cascade[t]["criterion"]),
                    "b": below(entry["deletion"]["auc"], entry["edge"]["auc"]),
                    "c": below(entry["deletion"]["auc"], other_auc)}
            entry["criteria"] = crit
            entry.update(verdict(crit))
            out[name][t] = entry
        if "critic" in todo:
            critic_done[critic_key(name)] = (out[name]["critic"], seconds["critic"])
        elif reuse:
            out[name]["critic"] = {**critic_done[critic_key(name)][0], "fps": round(fps, 2)}
    return out


def drawn_from_signed(name: str, target: str, signed: torch.Tensor) -> torch.Tensor | None:
    """The map ``make_method(name, ...)`` draws by default, from its signed map
    (``MethodOptions(signed=True)``) of the same frames; None where the drawn map is
    not a function of the signed one (SmoothGrad averages |gradient|; Grad-CAM applies
    its ReLU before upsampling)."""
    if name in PERTURBATION_SCORES:
        if PERTURBATION_SCORES[name] == "l2" or target == "actor":  # SARFA's critic: the signed value change
            return signed.clamp_min(0)
        return signed.abs()
    if name.removesuffix("-logp") in ("gradient", "integrated-gradients"):
        return signed.abs()
    return None


def _method(name: str, model: torch.nn.Module, mopts: MethodOptions,
            cache: dict[int, Perturbation], shared: dict | None = None) -> SaliencyMethod:
    """``make_method``, with the perturbation methods of one model sharing the network
    and chunk size the first of them picked (measured once per model, not per method),
    and their forward passes' outputs in ``shared`` (``Perturbation.share_outputs``)."""
    if name not in PERTURBATION_SCORES:
        return make_method(name, model, mopts)
    first = cache.get(id(model))
    if first is not None and first.model is model:
        return first.variant(PERTURBATION_SCORES[name], mopts.signed)
    method = make_method(name, model, mopts)
    assert isinstance(method, Perturbation)
    if shared is not None:
        method.share_outputs(shared)
    cache[id(model)] = method
    return method


def _below_limit(ci: dict) -> bool:
    return bool(ci["n"] > 0 and ci["mean"] < CORRELATION_LIMIT)


def _curves_fn(model: torch.nn.Module, frames: torch.Tensor, actions: torch.Tensor,
               opts: CheckOptions) -> Callable[..., dict[str, Curves]]:
    """A function (maps, targets, insertion=True) -> {target: Curves} on these frames, with one
    network built for every call and the curves' shared ends (intact and blurred frames)
    computed once."""
    from rlsight.explain.faithfulness.deletion import deletion_insertion_all, end_outputs
    from rlsight.explain.saliency.methods import as_float_frames
    from rlsight.explain.saliency.perturbation import gaussian_blur, inference_network

    x = as_float_frames(model, frames[:1])
    net = inference_network(model, x.expand(32, *x.shape[1:]).contiguous()) if x.device.type == "cpu" else model
    ends = end_outputs(model, frames, gaussian_blur(as_float_frames(model, frames), opts.blur_sigma), net)

    def curves(maps: torch.Tensor, targets: Sequence[str], insertion: bool = True) -> dict[str, Curves]:
        return deletion_insertion_all(model, frames, maps, tuple(targets), actions=actions,
                                      steps=opts.deletion_steps, blur_sigma=opts.blur_sigma, network=net,
                                      insertion=insertion, ends=ends)
    return curves


def _auc(c: Curves, rnd: Curves, kind: str, opts: CheckOptions) -> dict:
    """AUC of ``kind`` with its CI, and its ratio to the random order's (ratio of means)."""
    a = _np(getattr(c, f"{kind}_auc"))
    r = _np(getattr(rnd, f"{kind}_auc"))
    return {"auc": interval(a, opts), "ratio_to_random": ratio_interval(a, r, opts)}


def _randomisation(model: torch.nn.Module, frames: torch.Tensor, method: SaliencyMethod,
                   trained: dict[str, torch.Tensor], targets: Sequence[str], mopts: MethodOptions,
                   actions: torch.Tensor, quick: bool, opts: CheckOptions) -> dict:
    """Per target: the cascade's steps (each with the four correlations of ``CASCADE_STATS``
    and their CIs) and ``criterion``, the abs / nonzero-pixel correlation of the last step
    (full: every block randomised; ``quick``: the top block only). ``method`` (signed) and
    its ``trained`` maps come from the caller, which has computed them already."""
    from rlsight.explain.faithfulness.randomisation import cascading_randomisation

    steps = cascading_randomisation(model, frames, method, targets, mopts, seed=opts.seed, actions=actions,
                                    max_steps=opts.cascade_steps, trained=trained,
                                    stop_after=1 if quick else None)
    out = {}
    for t in targets:
        rows = [{"layer": s.group, **{k: interval(v, opts) for k, v in s.per_frame[t].items()}} for s in steps]
        out[t] = {"steps": rows, "criterion": rows[-1]["abs_nonzero"], "criterion_step": rows[-1]["layer"]}
    return out


def top_block_randomisation(model: torch.nn.Module, frames: torch.Tensor, name: str, targets: Sequence[str],
                            mopts: MethodOptions, seed: int, actions: torch.Tensor | None) -> list:
    """The first step of ``cascading_randomisation`` alone (the top layer group
    re-initialised), without computing the steps below it."""
    from rlsight.explain.faithfulness.randomisation import cascading_randomisation

    return cascading_randomisation(model, frames, name, targets, mopts, seed=seed, actions=actions, stop_after=1)


def stability_indices(n: int, k: int) -> torch.Tensor:
    """``k`` of ``n`` frame indices, evenly spread, the first one 0."""
    return torch.as_tensor((np.arange(k) * (n / k)).astype(np.int64))


def _stability(method: SaliencyMethod, frames: torch.Tensor, targets: Sequence[str], actions: torch.Tensor,
               opts: CheckOptions, quick: bool = False, maps: dict[str, torch.Tensor] | None = None) -> dict[str, dict]:
    """Per target: max-sensitivity's CI, every target from one set of noisy copies, on
    frames spread evenly over ``frames`` (so over every level of the state dataset, not the
    first levels only); ``maps``: the method's maps of ``frames``, where computed already."""
    from rlsight.explain.faithfulness.stability import max_sensitivity_all

    k = min(len(frames), opts.quick_stability_frames if quick else opts.stability_frames)
    idx = stability_indices(len(frames), k)
    base = None if maps is None else {t: maps[t][idx] for t in targets}
    v = max_sensitivity_all(method, frames[idx], targets, actions=actions[idx], radius=opts.stability_radius,
                            samples=opts.stability_samples, seed=opts.seed, base_maps=base)
    return {t: interval(_np(v[t]), opts) for t in targets}


# -- storage --------------------------------------------------------------------------------
def store(run: RunDir, result: dict) -> Path:
    """Merge ``result`` into the stored file (that of its shift, if any): each method x target
    keeps the newest entry, with the settings it was made with."""
    shift = result.get("shift") or None
    p = result_path(run, shift)
    p.parent.mkdir(parents=True, exist_ok=True)
    old = load_results(run, shift) or {"format": RESULT_FORMAT, "results": {}}
    entry_meta = {k: result[k] for k in ("settings", "other", "model_step", "created", "rlsight_version")}
    merged = {**old, **{k: v for k, v in result.items() if k != "results"}}
    merged["results"] = {m: dict(v) for m, v in old.get("results", {}).items()}
    for m, per_target in result["results"].items():
        for t, e in per_target.items():
            merged["results"].setdefault(m, {})[t] = {**e, "check": entry_meta}
    atomic_write_text(p, to_json(merged))
    return p


def to_json(obj) -> str:
    """Strict JSON (NaN and infinities as null)."""
    return json.dumps(_clean(obj), indent=1, sort_keys=True, allow_nan=False)


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


