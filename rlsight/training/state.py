"""Saving and restoring everything a resumed run needs to continue exactly:
weights, optimizer, RNG streams, reward normaliser, episode trackers and the
environments' own states."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from rlsight.errors import RunDirError
from rlsight.runs import faults
from rlsight.runs.atomic import atomic_dir
from rlsight.runs.checkpoint import (
    load_json,
    load_state_dict_checked,
    load_tensors,
    save_json,
    save_tensors,
)
from rlsight.runs.rundir import MODEL


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"optim.{pid}.{k}"] = v
            else:
                scalars[f"{pid}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_load(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    for k, v in meta["scalars"].items():
        pid, name = k.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _bytes_tensor(b: bytes) -> torch.Tensor:
    if not b:
        return torch.zeros(0, dtype=torch.uint8)
    return torch.frombuffer(bytearray(b), dtype=torch.uint8).clone()


def save_training_state(folder: Path, *, model, optimizer, meta: dict, env_states: dict[str, list[bytes]],
                        extra: dict[str, torch.Tensor] | None = None) -> None:
    """Write a complete checkpoint folder atomically (appears whole or not at all); ``extra``:
    more tensors that the training loop carries (e.g. PPG's stored rollouts), named ``NAME``."""

    def fill(tmp: Path) -> None:
        save_tensors(tmp / MODEL, model.state_dict(), {"step": meta["step"]})
        faults.point("checkpoint", folder)
        tensors, opt_meta = _optimizer_tensors(optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            for i, rng_state in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = rng_state
        for split, states in env_states.items():
            for i, s in enumerate(states):
                tensors[f"env.{split}.{i}"] = _bytes_tensor(s)
        for name, t in (extra or {}).items():
            tensors[f"extra.{name}"] = t.contiguous()
        save_tensors(tmp / "state.safetensors", tensors)
        np_state = np.random.get_state(legacy=True)
        assert isinstance(np_state, tuple)  # legacy=True (the default) gives the tuple form
        full = dict(meta)
        full["optimizer"] = opt_meta
        full["rng_numpy"] = [np_state[0], np_state[1].tolist(), *np_state[2:]]
        full["env_counts"] = {k: len(v) for k, v in env_states.items()}
        save_json(tmp / "meta.json", full)

    if folder.exists():
        return
    atomic_dir(folder, fill)


def load_training_state(folder: Path, model, optimizer) -> tuple[dict, dict[str, list[bytes]], dict[str, torch.Tensor]]:
    """Restore weights, optimizer and RNGs; return (meta, env states, the ``extra`` tensors)."""
    meta = load_json(folder / "meta.json")
    load_state_dict_checked(model, load_tensors(folder / MODEL), folder / MODEL)
    tensors = load_tensors(folder / "state.safetensors")
    try:
        _optimizer_load(optimizer, tensors, meta["optimizer"])
        torch.set_rng_state(tensors["rng.torch"])
        cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
        s = meta["rng_numpy"]
        np.random.set_state((s[0], np.asarray(s[1], dtype=np.uint32), *s[2:]))
        envs = {
            split: [bytes(tensors[f"env.{split}.{i}"].numpy().tobytes()) for i in range(n)]
            for split, n in meta["env_counts"].items()
        }
    except (KeyError, ValueError, json.JSONDecodeError) as e:
        raise RunDirError(f"{folder}: incomplete checkpoint ({e})") from None
    extra = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    return meta, envs, extra
