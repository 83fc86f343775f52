"""Perturbation saliency: the vectorised method against a straightforward loop,
measured side by side in one run, on the same model, frames and stride.

    python benchmarks/saliency_fps.py                    # both encoders, stride 4, CPU
    python benchmarks/saliency_fps.py --write BENCHMARKS.md

- loop: one forward pass per mask (batch of 1), masks and blurred frames
  precomputed, float32, no per-mask filtering (``rlsight.bench.loop_scores``);
- batched: every (frame, mask) pair through the same eager network in chunks
  (``perturbation.perturbation_scores``);
- vectorised: as ``rlsight saliency`` runs it: through the network and chunk size
  that ``perturbation.fastest_network`` measures fastest (the network traced,
  frozen and optimised for oneDNN, or an eager channels-last copy; chunks of
  32-256);
- ceiling: that network's forward passes alone, at that chunk size and layout,
  for the same number of inputs (masks + 1 per frame).

Frames/s count frames with complete actor and critic maps. Timings are the best
of ``--repeats`` interleaved rounds (the machine may be shared). The largest
absolute difference between the loop's and the vectorised maps is reported
next to the largest score.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

from rlsight.bench import (
    CPU_CHUNKS,
    fastest_network,
    gaussian_blur,
    hardware,
    loop_scores,
    make_masks,
    perturbation_scores,
    sync,
    write_section,
)
from rlsight.config import ModelConfig
from rlsight.models import ActorCritic


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def forward_only(net, chunk: int, samples: int, device: str) -> int:
    """The network's forward passes alone for ``samples`` inputs in whole batches of
    ``chunk``; returns the inputs passed (``samples`` rounded up to whole chunks)."""
    xb = torch.rand(chunk, 3, 64, 64, device=device)
    if getattr(net, "channels_last", False):
        xb = xb.contiguous(memory_format=torch.channels_last)
    batches = -(-samples // chunk)
    with torch.inference_mode():
        for _ in range(batches):
            net(xb)
    return batches * chunk


def bench(encoder: str, stride: int, frames: int, loop_frames: int, chunks: list[int], repeats: int,
          device: str) -> dict:
    torch.manual_seed(0)
    model = ActorCritic(ModelConfig(encoder=encoder)).to(device).eval()
    x = torch.rand(frames, 3, 64, 64, generator=torch.Generator().manual_seed(0)).to(device)
    masks = make_masks((64, 64), stride, 5.0).to(device)
    blurred = gaussian_blur(x, 3.0)
    k = masks.shape[0]
    net, chunk, tuning = fastest_network(model, x[:1], chunks)
    xl, bl = x[:loop_frames], blurred[:loop_frames]
    t_loop, t_bat, t_vec, t_ceil = [], [], [], []
    for _ in range(repeats):  # interleaved, so that all see the same machine load
        t = time.perf_counter()
        passed = forward_only(net, chunk, frames * (k + 1), device)
        sync(device)
        t_ceil.append(time.perf_counter() - t)
        t = time.perf_counter()
        slow = loop_scores(model, xl, masks, bl)
        sync(device)
        t_loop.append(time.perf_counter() - t)
        t = time.perf_counter()
        bat = perturbation_scores(model, x, masks, blurred, chunk=chunk)
        sync(device)
        t_bat.append(time.perf_counter() - t)
        t = time.perf_counter()
        fast = perturbation_scores(model, x, masks, blurred, chunk=chunk, network=net)
        sync(device)
        t_vec.append(time.perf_counter() - t)
    diff = max(float((r[t][:loop_frames].cpu() - slow[t].cpu()).abs().max()) for t in slow for r in (fast, bat))
    peak = max(float(slow[t].abs().max()) for t in slow)
    loop_fps, vec_fps = loop_frames / min(t_loop), frames / min(t_vec)
    name = max(tuning, key=tuning.get)[0] if tuning else "model (untimed on a GPU)"
    return {"encoder": encoder, "stride": stride, "masks": k, "chunk": chunk, "tuning": tuning, "network": name,
            "loop_fps": loop_fps, "batched_fps": frames / min(t_bat), "vec_fps": vec_fps,
            "speedup": vec_fps / loop_fps, "ceiling_fps": passed / (k + 1) / min(t_ceil),
            "max_abs_diff": diff, "max_score": peak}


def table(rows: list[dict]) -> str:
    lines = ["| encoder | stride | masks | loop (frames/s) | batched, eager (frames/s) | vectorised (frames/s) | "
             "speed-up | forward ceiling (frames/s) | network, chunk | max abs diff (max score) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['encoder']} | {r['stride']} | {r['masks']} | {r['loop_fps']:.2f} | "
                     f"{r['batched_fps']:.2f} | {r['vec_fps']:.2f} | "
                     f"**{r['speedup']:.1f}x** | {r['ceiling_fps']:.2f} | {r['network']}, {r['chunk']} | "
                     f"{r['max_abs_diff']:.1e} ({r['max_score']:.1e}) |")
    if not any(r["tuning"] for r in rows):  # a GPU: the model itself at the largest chunk, nothing to choose
        return ("\n".join(lines) + "\n\nSpeed-up = vectorised / loop. On a GPU the vectorised method runs the "
                "model itself at the largest chunk given; cuDNN runs float32 convolutions in TF32, so the maps "
                "of the loop and the batches differ by TF32 rounding, not float32's.")
    tunes = "; ".join(f"{r['encoder']}: " + ", ".join(f"{n} {c}: {v:,.0f}" for (n, c), v in r["tuning"].items())
                      for r in rows)
    return ("\n".join(lines) + "\n\nSpeed-up = vectorised / loop. The network and chunk size are what "
            "`fastest_network` measured fastest at the start of the run (inputs/s per candidate: " + tunes + ").")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoders", nargs="+", default=["impala", "nature"])
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--frames", type=int, default=16, help="frames for the vectorised method")
    p.add_argument("--loop-frames", type=int, default=2, help="frames for the loop (a subset of the same frames)")
    p.add_argument("--chunks", type=int, nargs="+", default=list(CPU_CHUNKS))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 = torch's default")
    p.add_argument("--device", default="cpu")
    p.add_argument("--write", type=Path, default=None, help="update this BENCHMARKS.md section")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    rows = []
    for enc in a.encoders:
        r = bench(enc, a.stride, a.frames, a.loop_frames, a.chunks, a.repeats, a.device)
        print(f"{enc}: loop {r['loop_fps']:.2f} frames/s, batched eager {r['batched_fps']:.2f}, "
              f"vectorised {r['vec_fps']:.2f} frames/s "
              f"({r['speedup']:.1f}x, chunk {r['chunk']}), ceiling {r['ceiling_fps']:.2f} frames/s, "
              f"max abs diff {r['max_abs_diff']:.1e} (max score {r['max_score']:.1e})", flush=True)
        rows.append(r)
    if a.write:
        try:
            load = Path("/proc/loadavg").read_text().split()[0]
        except OSError:
            load = "?"
        gpu = a.device.startswith("cuda")
        targets = "50x the loop on a GPU" if gpu else "4x the loop for IMPALA, 15x for Nature-DQN"
        body = (f"Perturbation saliency, actor and critic maps together, radius 5, blur sigma 3, float32, "
                f"{a.device}; random-initialised weights (speed does not depend on them). "
                f"Measured {time.strftime('%Y-%m-%d')} on {hardware(a.device)}; 1-minute load average "
                f"{load} at the end (the machine is shared). Best of {a.repeats} interleaved rounds; loop on "
                f"{a.loop_frames} frames, vectorised on {a.frames}. Targets: {targets}.\n\n{table(rows)}\n\n"
                f"Command: `python benchmarks/saliency_fps.py {shlex.join(sys.argv[1:] if argv is None else argv)}`")
        write_section(a.write, "saliency_fps", "Saliency: perturbation frames per second", body, device=a.device)
        print(f"wrote {a.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
