"""Features, comparisons and ablations of run directories (what the CLI and the
notebook API call).

    fs = run_features("runs/a")                        # computed once, stored, then reused
    cmp = compare_runs("runs/a", "runs/b")             # on A's state dataset
    res = ablate_run("runs/a", feature=0, episodes=256)
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rlsight.errors import RlsightError
from rlsight.explain.features.ablate import ablate_model, check_feature
from rlsight.explain.features.attribution import check_method
from rlsight.explain.features.compare import (
    ALPHA,
    FeatureComparison,
    compare_features,
    min_networks,
)
from rlsight.explain.features.compute import DEFAULT_K, compute_features
from rlsight.explain.features.layers import resolve_layer, spatial_layers
from rlsight.explain.features.nmf import check_k
from rlsight.explain.features.store import FeatureSet, features_dir, load_features, save_features
from rlsight.explain.states import DEFAULT_STATES, States, StatesSpec, load_or_record_states
from rlsight.runs import RunDir
from rlsight.runs.atomic import atomic_write_text

COMPARE_DIR = "features-compare"
ABLATION_DIR = "ablations"
RANDOM_NETWORKS = 19  # the fewest with which a match can pass the test at 0.05


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _frames(states: States, frames: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(obs, actions, indices into the state dataset): all frames, or ``frames`` spread evenly."""
    n = len(states)
    if frames is None or frames == n:
        idx = np.arange(n)
    else:
        if not 1 <= frames <= n:
            raise RlsightError(f"--frames {frames}: the state dataset holds {n} frames (need 1..{n})")
        stride = n / frames
        idx = (np.arange(frames) * stride + stride / 2).astype(np.int64)
    return states.obs[idx], states.actions[idx], idx


def list_layers(run: str | Path) -> list[tuple[str, tuple[int, int, int]]]:
    """(name, (C, h, w)) of the run's model's spatial layers, the default last."""
    from rlsight.runs.load import load_policy

    model, _, _ = load_policy(RunDir.open(run))
    return spatial_layers(model)


def _settings(layer: str, k: int, frames: int, method: str, steps: int, step: int) -> dict:
    return {"layer": layer, "k": k, "frames": frames, "attribution": method,
            "ig_steps": steps if method == "ig" else None, "model_step": step}


def run_features(run: str | Path, k: int = DEFAULT_K, layer: str | None = None, frames: int | None = None,
                 method: str = "ig", steps: int = 8, seed: int = 0, overwrite: bool = False,
                 spec: StatesSpec | None = None, say: Callable[[str], None] = _say) -> FeatureSet:
    """The run's features on its state dataset: the stored ones when they were computed
    with these settings, else computed and stored in ``RUN/explain/features/`` (stored
    features with other settings are replaced only with ``overwrite``). ``spec``: the
    state dataset (default ``DEFAULT_STATES``, 64 held-out levels x 64 steps)."""
    from rlsight.runs.load import load_policy

    rd = RunDir.open(run)
    model, cfg, step = load_policy(rd)
    name, _, (channels, _, _) = resolve_layer(model, layer)
    check_k(k, channels, name)
    check_method(method, steps)
    states = load_or_record_states(rd, spec or DEFAULT_STATES, say=say)
    obs, actions, idx = _frames(states, frames)
    want = _settings(name, k, len(obs), method, steps, step)
    stored = load_features(rd.path, arrays=False)
    if stored is not None:
        have = _settings(stored.layer, stored.k, stored.meta.get("frames", -1), stored.meta.get("attribution", ""),
                         stored.meta.get("ig_steps") or 0, stored.meta.get("model_step", -1))
        if have == want:
            say(f"reusing the features stored in {features_dir(rd.path)}")
            return load_features(rd.path)  # type: ignore[return-value]
        if not overwrite:
            diff = ", ".join(f"{k_}={have[k_]} (asked {want[k_]})" for k_ in want if have[k_] != want[k_])
            raise RlsightError(f"{features_dir(rd.path)} holds features with other settings: {diff}; "
                               "pass --overwrite (overwrite=True) to replace them")
    fs = compute_features(model, obs, actions, k, name, method, steps, seed, say=say)
    fs.meta.update({"run": rd.name, "game": cfg.env.game, "encoder": cfg.model.encoder, "model_step": step,
                    "states_frames": len(states)})
    fs.arrays["frame_index"] = idx.astype(np.int64)
    save_features(rd.path, fs, overwrite=True)
    say(f"stored {k} features of {rd.name} in {features_dir(rd.path)}")
    return fs


def _random_models(cfg_model, count: int, seed: int) -> list[torch.nn.Module]:
    from rlsight.models import build_model

    out: list[torch.nn.Module] = []
    for r in range(count):
        torch.manual_seed(10_000 + seed + r)
        out.append(build_model(cfg_model).eval())
    return out


def _stored_comparison(path: Path, key: dict) -> FeatureComparison | None:
    """The comparison stored at ``path`` when it was made with the settings ``key``."""
    from rlsight.explain.features.compare import Match

    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        if any(doc["meta"].get(k) != v for k, v in key.items()):
            return None
        return FeatureComparison([Match(**m) for m in doc["a"]], [Match(**m) for m in doc["b"]], doc["meta"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # damaged or older: computed afresh and replaced


def compare_runs(run_a: str | Path, run_b: str | Path, k: int = DEFAULT_K, layer: str | None = None,
                 layer_b: str | None = None, frames: int | None = None, method: str = "ig", steps: int = 8,
                 seed: int = 0, random_networks: int = RANDOM_NETWORKS, overwrite: bool = False,
                 spec: StatesSpec | None = None, say: Callable[[str], None] = _say) -> tuple[FeatureComparison,
                                                                                               Path]:
    """Compare the features of A and B on A's state dataset (B's features are fit on
    those frames too, its policy target the action B itself finds most probable);
    writes ``RUN_A/explain/features-compare/<B>.json``, and reuses it when it was made
    with the same settings and models."""
    from rlsight.runs.load import load_policy

    ra, rb = RunDir.open(run_a), RunDir.open(run_b)
    model_a, cfg_a, _ = load_policy(ra)
    model_b, cfg_b, step_b = load_policy(rb)
    if cfg_a.env.game != cfg_b.env.game:
        raise RlsightError(f"{ra.name} plays {cfg_a.env.game} but {rb.name} plays {cfg_b.env.game}; "
                           "compare runs of the same game")
    if random_networks < min_networks():
        raise RlsightError(f"--random-networks {random_networks}: must be >= {min_networks()} (a match must beat "
                           f"the best match of each random network, at p <= {ALPHA:g})")
    check_method(method, steps)
    name_b, _, (channels_b, _, _) = resolve_layer(model_b, layer_b, "--layer-b")
    check_k(k, channels_b, name_b)
    fs_a = run_features(ra.path, k, layer, frames, method, steps, seed, overwrite, spec, say)
    out = ra.path / "explain" / COMPARE_DIR / f"{rb.name}.json"
    key = {"k": [k, k], "layers": [fs_a.layer, name_b], "frames": fs_a.meta["frames"], "attribution": method,
           "random_networks": [random_networks, random_networks], "model_step_a": fs_a.meta.get("model_step"),
           "model_step_b": step_b, "seed": seed, "path_b": str(rb.path.resolve())}  # same name, other run: redo
    stored = _stored_comparison(out, key)
    if stored is not None:
        say(f"reusing the comparison stored in {out}")
        return stored, out
    states = load_or_record_states(ra, spec or DEFAULT_STATES, say=say)
    obs, _, _ = _frames(states, frames)
    with torch.no_grad():
        act_b = np.concatenate([model_b(torch.from_numpy(obs[i:i + 256]))[0].argmax(-1).numpy()
                                for i in range(0, len(obs), 256)])
    say(f"features of {rb.name} on the same {len(obs)} frames")
    fs_b = compute_features(model_b, obs, act_b, k, name_b, method, steps, seed, say=say)
    say(f"null: {random_networks} random-weights networks of each architecture")
    cmp = compare_features(model_a, fs_a, model_b, fs_b, obs, _random_models(cfg_a.model, random_networks, seed),
                           _random_models(cfg_b.model, random_networks, seed), seed=seed)
    cmp.meta.update({**key, "run_a": ra.name, "run_b": rb.name, "game": cfg_a.env.game,
                     "encoders": [cfg_a.model.encoder, cfg_b.model.encoder], "frames_from": ra.name})
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(cmp.as_dict(), indent=1, sort_keys=True) + "\n")
    return cmp, out


def ablate_run(run: str | Path, feature: int, episodes: int = 256, seed: int = 0, greedy: bool = False,
               say: Callable[[str], None] = _say) -> tuple[dict, Path]:
    """Ablate stored feature ``feature`` of the run and play ``episodes`` held-out
    episodes with and without it; writes ``RUN/explain/ablations/feature-<i>.json`` and
    reuses it when made with the same settings, model and features."""
    from rlsight.envs import make_env
    from rlsight.evaluation import check_held_out, eval_env_count
    from rlsight.runs.load import load_policy

    rd = RunDir.open(run)
    fs = load_features(rd.path, arrays=False)
    if fs is None:
        raise RlsightError(f"{rd.name} has no stored features; run `rlsight features {rd.path}` first")
    check_feature(fs, feature)
    if episodes < 1:
        raise RlsightError(f"--episodes {episodes}: must be >= 1")
    model, cfg, step = load_policy(rd)
    check_held_out(cfg, rd.name, "rlsight ablate")  # it plays held-out episodes
    out = rd.path / "explain" / ABLATION_DIR / f"feature-{feature}.json"
    key = {"episodes": episodes, "seed": seed, "greedy": greedy, "model_step": step, "layer": fs.layer,
           "components_sha256": hashlib.sha256(fs.components.astype(np.float32).tobytes()).hexdigest()}
    if out.is_file():
        try:
            old = json.loads(out.read_text())
            if all(old.get(k) == v for k, v in key.items()):
                say(f"reusing the ablation stored in {out}")
                return old, out
        except (OSError, ValueError):
            pass  # damaged: measured afresh and replaced
    n_envs = eval_env_count(episodes)
    say(f"playing {episodes} held-out episodes ({n_envs} envs) with and without feature {feature} at {fs.layer}")
    res = ablate_model(model, fs, feature, lambda: make_env(cfg.env, "test", n_envs, seed=seed),
                       episodes // n_envs, seed=seed, greedy=greedy)
    res.update({**key, "run": rd.name, "game": cfg.env.game, "num_envs": n_envs})
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(res, indent=1, sort_keys=True) + "\n")
    return res, out
