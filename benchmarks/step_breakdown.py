"""Where one training update's time goes, part by part, for a preset on a device:
the environments stepping alone, one rollout step's inference (copy in, forward
pass, sampling, actions back to the host) and one epoch of the PPO update, each in
the variants the trainer offers (bf16 autocast, ``torch.compile``). Each part
sets a ceiling on training SPS; together, run one after another as the trainer
with one environment group does, they predict its SPS.

    python benchmarks/step_breakdown.py --device cuda --write BENCHMARKS.md
    python benchmarks/step_breakdown.py --set env.num_envs=8 --num-steps 16   # a quick look on CPU

The environments step with random actions on Procgen's own threads (one per core,
at most one per environment), the training and held-out environments together
as in a rollout. Inference and update run on random frames of the same shapes.
Each figure is the mean over at least ``--seconds`` of calls after warm-up calls.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from rlsight import config as C
from rlsight.bench import (
    RolloutCollector,
    hardware,
    make_optimizer,
    random_batch,
    seconds_per_call,
    sync,
    update_chunk_size,
    update_workers,
    write_section,
)
from rlsight.envs import make_env
from rlsight.hardware import resolve_device
from rlsight.models import build_model
from rlsight.ppo import ppo_update

VARIANTS = {"eager": ("off", False), "bf16": ("bf16", False), "compiled": ("off", True),
            "compiled+bf16": ("bf16", True)}  # name: (train.autocast, compiled)


def env_step_seconds(cfg: C.Config, seconds: float) -> float:
    """Seconds per step of all training and held-out environments (act, then observe)."""
    envs = [make_env(cfg.env, "train", cfg.env.num_envs, 0)]
    if cfg.env.num_test_envs:
        envs.append(make_env(cfg.env, "test", cfg.env.num_test_envs, 1))
    rng = np.random.default_rng(0)

    def step():
        for e in envs:
            e.act(rng.integers(0, 15, e.num_envs))
        for e in envs:
            e.observe()

    for _ in range(20):
        step()
    out = seconds_per_call(step, seconds)
    for e in envs:
        e.close()
    return out


def network(cfg: C.Config, device: torch.device):
    """The model (compiled as the trainer compiles it) and its optimizer."""
    torch.manual_seed(0)
    model = build_model(cfg.model).to(device)
    opt = make_optimizer(model, cfg, device)
    return (model if cfg.train.compile == "off" else torch.compile(model, mode=cfg.train.compile)), opt


def inference_call(cfg: C.Config, device: torch.device, model):
    """One rollout step's inference for all environments, as the collector acts."""
    n = cfg.env.num_envs + cfg.env.num_test_envs
    obs = np.random.default_rng(0).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    actor = SimpleNamespace(cfg=cfg, model=model, device=device)

    def act():
        actions = RolloutCollector.act(actor, obs)[1]
        actions.cpu().numpy()  # the collector hands the actions to the environments

    for _ in range(5):
        act()
    return act


def profile(fn, device: torch.device, calls: int = 50) -> str:
    """torch.profiler's table of ``calls`` calls of ``fn``: the ops that cost the host most time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=acts) as prof:
        for _ in range(calls):
            fn()
    return prof.key_averages().table(sort_by="cpu_time_total", row_limit=30)


def epoch_seconds(cfg: C.Config, device: torch.device, model, opt, seconds: float) -> float:
    """Seconds per epoch of the PPO update over one rollout's batch."""
    batch = random_batch(cfg.env.num_envs * cfg.ppo.num_steps, device)
    one_epoch = dataclasses.replace(cfg.ppo, num_epochs=1)
    chunk = update_chunk_size(cfg, device)
    workers = update_workers(cfg, device)

    def epoch():
        ppo_update(model, opt, batch, one_epoch, chunk=chunk,
                   workers=workers, autocast=cfg.train.autocast)
        sync(device)

    epoch()  # warm-up (cuDNN's algorithm search, compilation)
    epoch()
    return seconds_per_call(epoch, seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="procgen-paper")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    ap.add_argument("--num-steps", type=int, default=0, help="shorter rollouts than the preset's")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from: {', '.join(VARIANTS)}")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seconds", type=float, default=3.0, help="time each part for at least this long")
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's table of the inference step")
    ap.add_argument("--write", metavar="BENCHMARKS.md", help="write the table into this file's step_breakdown section")
    args = ap.parse_args()
    variants = args.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"--variants {v!r}: allowed are {', '.join(VARIANTS)}")
    cfg = C.load(args.config, [f"train.device={args.device}", *args.set])
    if args.num_steps:
        cfg.ppo.num_steps = args.num_steps
        cfg.ppo.batch_size = min(cfg.ppo.batch_size, cfg.env.num_envs * args.num_steps)
    device = resolve_device(cfg.train.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the trainer does
    N, T, E = cfg.env.num_envs, cfg.ppo.num_steps, cfg.ppo.num_epochs
    per_update = N * T

    t_env = env_step_seconds(cfg, args.seconds)
    print(f"environments: {t_env * 1e3:.2f} ms per step of {N} + {cfg.env.num_test_envs} envs "
          f"-> {N / t_env:,.0f} SPS alone", flush=True)
    rows = []
    for v in variants:
        cfg.train.autocast, compiled = VARIANTS[v]
        cfg.train.compile = "off" if not compiled else ("reduce-overhead" if device.type == "cuda" else "default")
        t0 = time.perf_counter()
        model, opt = network(cfg, device)
        act = inference_call(cfg, device, model)
        t_inf = seconds_per_call(act, args.seconds)
        if args.profile:
            print(f"{v}: profile of 50 inference steps\n{profile(act, device)}", flush=True)
        t_epoch = epoch_seconds(cfg, device, model, opt, args.seconds)
        warm = time.perf_counter() - t0
        update = T * (t_env + t_inf) + E * t_epoch
        rows.append((v, t_inf, t_epoch, per_update / (T * t_inf), per_update / (E * t_epoch),
                     per_update / (T * t_inf + E * t_epoch), per_update / update))
        print(f"{v:14s} inference {t_inf * 1e3:6.2f} ms/step ({rows[-1][3]:8,.0f} SPS alone)   "
              f"epoch {t_epoch * 1e3:7.1f} ms ({rows[-1][4]:8,.0f} SPS alone)   network {rows[-1][5]:8,.0f} SPS   "
              f"serial estimate {rows[-1][6]:8,.0f} SPS   ({warm:.0f} s in all)", flush=True)

    if args.write:
        lines = [
            f"Measured {time.strftime('%Y-%m-%d')} on {hardware(args.device)}; command: "
            f"`python benchmarks/step_breakdown.py {shlex.join(sys.argv[1:])}`.",
            "",
            f"`{args.config}`: {N} training + {cfg.env.num_test_envs} held-out environments, {T} steps per rollout "
            f"({per_update:,} steps per update), {E} epochs of minibatches of {cfg.ppo.batch_size}. The environments "
            f"alone step in {t_env * 1e3:.2f} ms ({N / t_env:,.0f} SPS).",
            "",
            "| variant | inference per step (ms) | SPS if only inference ran | update epoch (ms) | SPS if only the update ran | "
            "network alone (SPS) | one after another with the environments (SPS) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for v, t_inf, t_epoch, s_inf, s_upd, s_net, s_all in rows:
            lines.append(f"| {v} | {t_inf * 1e3:.2f} | {s_inf:,.0f} | {t_epoch * 1e3:.1f} | {s_upd:,.0f} | "
                         f"{s_net:,.0f} | {s_all:,.0f} |")
        lines += ["", "Inference: the collector's `act` for all environments (uint8 frames copied in, forward "
                  "pass, sampling) and the actions copied back to the host. Compiled: `torch.compile` in "
                  "mode reduce-overhead (CUDA graphs) on a GPU, default on CPU. The last column adds the "
                  "parts as a rollout with one environment group runs them, one after another."]
        write_section(Path(args.write), "step_breakdown", "Where an update's time goes (benchmarks/step_breakdown.py)",
                      "\n".join(lines), device=args.device)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
