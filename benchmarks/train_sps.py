"""Training throughput against the network-only ceiling, and the fast path
against CleanRL-style unchunked passes, measured side by side in one run.

    python benchmarks/train_sps.py                       # procgen-paper, both encoders, both modes
    python benchmarks/train_sps.py --num-steps 64 --write BENCHMARKS.md
    python benchmarks/train_sps.py --configs procgen-paper,cpu-30min@nature  # a preset with only some encoders
    python benchmarks/train_sps.py --modes cleanrl,fast,fast+bf16 --write BENCHMARKS.md --machine 'AMD EPYC, 2 cores'

For each (config, encoder, mode) it runs the real trainer for a few updates
(the first, or the first three with a compiled network, are warm-ups and not counted) and, in the same process, times the
network work alone for the same shapes: the rollout's forward passes over the
training and held-out observations, and the update's forward/backward passes and
optimizer steps on random data. SPS / ceiling says how much of the time the
environments and bookkeeping cost. It also counts the network's floating-point
work per environment step (torch's FLOP counter: the rollout's forward passes
and every epoch's forward/backward passes) and sets the rate that training
reaches against the peak of one large matrix product in the same process and
precision, a practical upper bound for the hardware. Each figure is the best of ``--repeats``
interleaved rounds, since the machine may be shared. Every measurement runs in
its own process, because the allocator setting below is process-wide. Modes:

- fast:         the project's defaults (chunked update on CPU, freed memory kept
                in the process: rlsight/hardware.py)
- cleanrl:      one forward/backward over each whole minibatch and one inference
                pass over all environments, with the default allocator, as
                CleanRL's ppo_procgen.py runs
- cleanrl-keep: as cleanrl, but with the project's allocator setting (shows how
                much of the gain is the allocator and how much the chunking)

A mode may add options with "+", e.g. ``fast+bf16+compile``:

- bf16:         bf16 autocast for the forward passes (train.autocast)
- compile:      torch.compile, mode reduce-overhead (CUDA graphs) on a GPU and
                default on CPU (train.compile)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from rlsight import config as C
from rlsight.bench import (
    ALLOCATOR_SWITCH,
    add_machine_argument,
    autocast_context,
    hardware,
    keep_freed_memory,
    make_optimizer,
    matmul_peak,
    random_batch,
    rollout_share,
    sync,
    update_chunk_size,
    update_workers,
    write_section,
)
from rlsight.envs import family_of
from rlsight.hardware import resolve_device
from rlsight.models import sample_actions
from rlsight.ppo import Batch, ppo_update
from rlsight.runs import RunDir, build_model_for
from rlsight.training import Trainer

MODES = ("fast", "cleanrl", "cleanrl-keep")
OPTIONS = ("bf16", "compile")


def make_config(preset: str, encoder: str, mode: str, num_steps: int | None, device: str,
                overrides: list[str] = ()) -> C.Config:
    cfg = C.load(preset, [f"model.encoder={encoder}", f"train.device={device}", *overrides])
    if num_steps:
        cfg.ppo.num_steps = num_steps
        rollout = cfg.env.num_envs * num_steps
        cfg.ppo.batch_size = min(cfg.ppo.batch_size, rollout)
    if mode.startswith("cleanrl"):
        cfg.train.update_chunk = cfg.ppo.batch_size
    options = mode.split("+")[1:]
    if "bf16" in options:
        cfg.train.autocast = "bf16"
    if "compile" in options:
        cfg.train.compile = "reduce-overhead" if device.startswith("cuda") else "default"
    C.validate(cfg)
    return cfg


def warmup_updates(cfg: C.Config) -> int:
    """Updates not counted: one, or three with a compiled network (compilation and, on
    a GPU, CUDA graphs recorded for each new shape take the first two)."""
    return 3 if cfg.train.compile != "off" else 1


def training_sps(cfg: C.Config, updates: int) -> tuple[float, float]:
    """SPS of the real trainer over ``updates`` updates after the warm-up updates, and
    the share of that time spent collecting rollouts (the rest is learning)."""
    per_update = cfg.env.num_envs * cfg.ppo.num_steps
    warm = warmup_updates(cfg)
    cfg.train.total_steps = per_update * (updates + warm)
    cfg.train.save_step = 10**12
    with tempfile.TemporaryDirectory() as d:
        run = RunDir.create(Path(d) / "run", cfg)
        Trainer(cfg, run, progress=False).train()
        rows = run.metrics()
    counted = rows[warm:]
    seconds = counted[-1]["wall_time"] - rows[warm - 1]["wall_time"]
    return per_update * len(counted) / seconds, rollout_share(counted)


def ceiling_sps(cfg: C.Config, sample_steps: int = 32) -> float:
    """SPS if only the network ran: rollout forwards + the update, same shapes and chunks."""
    device = resolve_device(cfg.train.device)
    upd_chunk = update_chunk_size(cfg, device)
    workers = update_workers(cfg, device)
    torch.manual_seed(0)
    model = build_model_for(cfg).to(device)
    opt = make_optimizer(model, cfg, device)
    if cfg.train.compile != "off":
        model = torch.compile(model, mode=cfg.train.compile)
    n_obs = cfg.env.num_envs + cfg.env.num_test_envs
    obs = torch.randint(0, 256, (n_obs, *family_of(cfg.env).obs_shape), dtype=torch.uint8, device=device)

    def rollout_forward():
        with torch.no_grad(), autocast_context(device, cfg.train.autocast):
            logits = model(obs)[0]
            sample_actions(logits.float()).cpu()

    for _ in range(warmup_updates(cfg)):  # compilation, CUDA graphs' recording
        rollout_forward()
    steps = min(sample_steps, cfg.ppo.num_steps)
    t0 = time.perf_counter()
    for _ in range(steps):
        rollout_forward()
    sync(device)
    t_forward = (time.perf_counter() - t0) * cfg.ppo.num_steps / steps

    B = cfg.env.num_envs * cfg.ppo.num_steps
    fam = family_of(cfg.env)
    batch = random_batch(B, device, fam.obs_shape, fam.action_count(cfg.env.game))
    one_epoch = C.PPOConfig(**{**cfg.ppo.__dict__, "num_epochs": 1})
    for _ in range(warmup_updates(cfg)):
        ppo_update(model, opt, Batch(*(t[: cfg.ppo.batch_size] for t in batch.__dict__.values())),
                   C.PPOConfig(**{**one_epoch.__dict__, "batch_size": cfg.ppo.batch_size}), chunk=upd_chunk,
                   workers=workers, autocast=cfg.train.autocast)
    t0 = time.perf_counter()
    ppo_update(model, opt, batch, one_epoch, chunk=upd_chunk,
               workers=workers, autocast=cfg.train.autocast)
    sync(device)
    t_update = (time.perf_counter() - t0) * cfg.ppo.num_epochs
    return B / (t_forward + t_update)


def flops_per_step(cfg: C.Config) -> float:
    """The network's FLOPs per training environment step: forward passes for the
    training and held-out environments, and ``num_epochs`` forward/backward passes."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model_for(cfg)
    obs = torch.zeros((2, *family_of(cfg.env).obs_shape), dtype=torch.uint8)
    with FlopCounterMode(display=False) as fwd, torch.no_grad():
        model(obs)
    with FlopCounterMode(display=False) as fwd_bwd:
        logits, value = model(obs)
        (logits.sum() + value.sum()).backward()
    per_sample_fwd, per_sample_fwd_bwd = fwd.get_total_flops() / 2, fwd_bwd.get_total_flops() / 2
    acting = (cfg.env.num_envs + cfg.env.num_test_envs) / cfg.env.num_envs
    return acting * per_sample_fwd + cfg.ppo.num_epochs * per_sample_fwd_bwd


def measure_in_child(args: argparse.Namespace, preset: str, enc: str, mode: str) -> dict:
    """Run one measurement in a fresh process (the allocator setting cannot be undone)."""
    job = {"preset": preset, "encoder": enc, "mode": mode, "num_steps": args.num_steps or None,
           "device": args.device, "updates": args.updates, "threads": args.threads, "set": args.set}
    env = dict(os.environ)
    base = mode.split("+")[0]
    if base == "cleanrl":
        env[ALLOCATOR_SWITCH] = "0"
    elif base == "cleanrl-keep":
        env.pop(ALLOCATOR_SWITCH, None)
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"measurement {preset} {enc} {mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(job: dict) -> None:
    """One (config, encoder, mode): print its SPS, ceiling, FLOPs per step and matmul peak as JSON."""
    if job["threads"]:
        torch.set_num_threads(job["threads"])
    if job["device"] == "cpu":
        keep_freed_memory()  # as the trainer does; a no-op when the parent switched it off
    cfg = make_config(job["preset"], job["encoder"], job["mode"], job["num_steps"], job["device"], job["set"])
    if job["threads"]:
        cfg.train.torch_threads = job["threads"]
    ceil = ceiling_sps(cfg)
    sps, rollout_share = training_sps(cfg, job["updates"])
    peak, peak_dtype = matmul_peak(resolve_device(cfg.train.device), cfg.train.autocast)
    print(json.dumps({"sps": sps, "rollout_share": rollout_share, "ceiling": ceil, "flops_per_step": flops_per_step(cfg),
                      "peak": peak, "peak_dtype": peak_dtype}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="procgen-paper",
                    help="comma-separated presets; NAME@ENC+ENC measures NAME with those encoders only")
    ap.add_argument("--encoders", default="nature,impala", help="encoders for presets named without @")
    ap.add_argument("--modes", default="fast,cleanrl",
                    help=f"comma-separated, from: {', '.join(MODES)}; options joined with +: {', '.join(OPTIONS)}")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for every mode")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--num-steps", type=int, default=0, help="shorter rollouts than the preset's (same batch shapes)")
    ap.add_argument("--updates", type=int, default=2, help="timed updates after the warm-up updates (one; three with compile)")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved rounds; the best of each is kept")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    ap.add_argument("--write", metavar="BENCHMARKS.md", help="write the results into this file's train_sps section")
    add_machine_argument(ap)
    args = ap.parse_args()
    if args.child:
        return child(json.loads(args.child))

    modes = args.modes.split(",")
    for m in modes:
        base, *options = m.split("+")
        if base not in MODES or any(o not in OPTIONS for o in options):
            ap.error(f"--modes {m!r}: allowed are {', '.join(MODES)}, each optionally with "
                     f"+{', +'.join(OPTIONS)}")
    rows = []
    for item in args.configs.split(","):
        preset, _, own = item.partition("@")
        for enc in (own.split("+") if own else args.encoders.split(",")):
            best = {m: {"sps": 0.0, "ceiling": 0.0, "peak": 0.0} for m in modes}
            for _ in range(args.repeats):  # interleaved, best of: the machine may be shared
                for m in modes:
                    r = measure_in_child(args, preset, enc, m)
                    if r["sps"] > best[m]["sps"]:
                        best[m]["rollout_share"] = r["rollout_share"]  # of the fastest round
                    for k in ("sps", "ceiling", "peak"):
                        best[m][k] = max(best[m][k], r[k])
                    best[m]["flops_per_step"], best[m]["peak_dtype"] = r["flops_per_step"], r["peak_dtype"]
            for m in modes:
                cfg, b = make_config(preset, enc, m, args.num_steps or None, args.device, args.set), best[m]
                rate = b["sps"] * b["flops_per_step"]
                rows.append((preset, enc, m, cfg.env.num_envs, cfg.ppo.num_steps, cfg.ppo.batch_size,
                             (update_chunk_size(cfg, resolve_device(args.device)), 0), b["sps"], b["rollout_share"],
                             b["ceiling"], rate, b["peak"], b["peak_dtype"]))
                print(f"{preset:14s} {enc:7s} {m:12s} train {b['sps']:8.0f} sps ({b['rollout_share']:.0%} rollouts)   "
                      f"network-only {b['ceiling']:8.0f} sps   "
                      f"ratio {b['sps'] / b['ceiling']:.2f}   network {rate / 1e9:.0f} GFLOP/s = "
                      f"{rate / b['peak']:.2f} of {b['peak_dtype']} matmul peak {b['peak'] / 1e9:.0f}", flush=True)
            for m in (m for m in modes if "cleanrl" in best and not m.startswith("cleanrl")):
                print(f"{preset:14s} {enc:7s} {m} / cleanrl-style: {best[m]['sps'] / best['cleanrl']['sps']:.2f}x",
                      flush=True)

    if args.write:
        lines = [
            f"Measured {time.strftime('%Y-%m-%d')} on {hardware(args.device)}; command: "
            f"`python benchmarks/train_sps.py {shlex.join(sys.argv[1:])}`.",
            "",
            "| config | encoder | mode | envs | steps/env | minibatch | chunks (update, inference) | training SPS | "
            "time in rollouts | network-only SPS | ratio | network GFLOP/s in training | matmul peak GFLOP/s | share of peak |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for preset, enc, mode, ne, ns, mb, (uc, ic), sps, share, ceil, rate, peak, dt in rows:
            lines.append(f"| {preset} | {enc} | {mode} | {ne} | {ns} | {mb} | {uc or 'whole'}, {ic or 'all'} | "
                         f"{sps:.0f} | {share:.0%} | {ceil:.0f} | {sps / ceil:.2f} | {rate / 1e9:,.0f} | {peak / 1e9:,.0f} ({dt}) | "
                         f"{rate / peak:.2f} |")
        speedups = {}
        for preset, enc, mode, *_, sps, _share, _ceil, _rate, _peak, _dt in rows:
            speedups.setdefault((preset, enc), {})[mode] = sps
        lines.append("")
        if args.device.startswith("cuda"):
            how = ('Network-only SPS times 32 rollout steps and one epoch of the update and scales them. '
                   'Each measurement ran in its own process. On a GPU, fast and cleanrl run the same passes (whole '
                   'minibatches, one inference pass for all environments; the allocator setting is the CPU\'s), so '
                   'their ratio shows the run-to-run noise, and the options are what differ. A compiled network\'s '
                   'first three updates are warm-ups (compilation, CUDA graphs recorded for each new shape). ')
        else:
            how = ('Network-only SPS times 32 rollout steps and one epoch of the update and scales them; on this '
                   'shared machine single timings vary by about 20% between rounds, so a ratio a little above 1 '
                   'means that estimate came out low. Each measurement ran in its own process; cleanrl ran with '
                   'the default glibc allocator, fast and cleanrl-keep with freed memory kept in the process '
                   '(rlsight/hardware.py); on CPU, fast with IMPALA spreads the update\'s chunks over '
                   'one thread per core. ')
        lines.append(how +
                     'Time in rollouts: the share of the timed updates spent acting, stepping the environments '
                     'and computing advantages (metrics.csv rollout_time); the rest is the PPO epochs. '
                     'Network GFLOP/s = training SPS times the network\'s FLOPs per environment step (torch\'s FLOP '
                     'counter; the rollout\'s forward passes for training and held-out environments and every '
                     'epoch\'s forward/backward passes); the peak is the best of a large square matrix product in '
                     'the same process and precision; where the convolutions outrun that product (float32 on the AMD EPYC), the share exceeds 1.')
        lines.append("")
        for (preset, enc), m in speedups.items():
            for mode in (k for k in m if "cleanrl" in m and not k.startswith("cleanrl")):
                lines.append(f"- {preset}, {enc}: {mode} / CleanRL-style = **{m[mode] / m['cleanrl']:.2f}x**")
        write_section(Path(args.write), "train_sps", "Training throughput (benchmarks/train_sps.py)", "\n".join(lines),
                      device=args.device, machine=args.machine)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
