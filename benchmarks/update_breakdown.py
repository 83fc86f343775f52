"""Where does the CPU update's time go, and would lower precision help?

The fast path's unit of work is a forward and backward pass over a chunk of
frames on one thread. This times, in one process:

- that whole pass, as training runs it (channels-last activations, float32);
- each distinct convolution of the encoder on its own, forward and backward,
  in float32 and in bfloat16, with its GFLOP/s;
- a large square matrix product in both precisions, as the peak to compare with.

The sum of the float32 convolutions over the pass gives the share of the pass
spent in convolutions; the rest is pooling, ReLU, additions and the heads.

    python benchmarks/update_breakdown.py --write BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rlsight import config as C
from rlsight.bench import (
    add_machine_argument,
    hardware,
    keep_freed_memory,
    matmul_peak,
    seconds_per_call,
    write_section,
)
from rlsight.models import build_model

DTYPES = (torch.float32, torch.bfloat16)


def conv_shapes(model: nn.Module, x: torch.Tensor) -> dict[tuple, dict]:
    """Distinct convolutions met in a forward pass: (input shape, conv) -> first name and count."""
    found: dict[tuple, dict] = {}
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d):
            def hook(m, inp, _out, name=name):
                key = (tuple(inp[0].shape), m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
                entry = found.setdefault(key, {"name": name, "count": 0, "needs_input_grad": inp[0].requires_grad})
                entry["count"] += 1
            hooks.append(mod.register_forward_hook(hook))
    with torch.enable_grad():
        model(x)
    for h in hooks:
        h.remove()
    return found


def conv_timer(key: tuple, needs_input_grad: bool, dtype: torch.dtype, seconds: float):
    """Seconds for one forward, and for one forward+backward, of the convolution ``key``."""
    shape, cin, cout, k, stride, pad = key
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(cout, cin, *k, generator=gen).to(dtype).requires_grad_()
    b = torch.zeros(cout, dtype=dtype, requires_grad=True)
    x.requires_grad_(needs_input_grad)
    y = F.conv2d(x, w, b, stride, pad)
    g = torch.randn(y.shape, generator=gen).to(dtype).contiguous(memory_format=torch.channels_last)
    wrt = [w, b] + ([x] if needs_input_grad else [])

    def forward():
        with torch.no_grad():
            F.conv2d(x, w, b, stride, pad)

    def both():
        torch.autograd.grad(F.conv2d(x, w, b, stride, pad), wrt, g)

    forward(), both()  # warm up
    flops = 2 * y.numel() * cin * k[0] * k[1]  # forward multiply-adds x 2
    return seconds_per_call(forward, seconds), seconds_per_call(both, seconds), flops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="procgen-paper", help="preset or TOML file (default procgen-paper)")
    ap.add_argument("--encoder", default="impala", help="encoder (default impala)")
    ap.add_argument("--chunk", type=int, default=64, help="frames per pass, as the CPU fast path uses (default 64)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is kept (default 3)")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of one timing (default 1.0)")
    ap.add_argument("--write", type=Path, help="write the results into this markdown file (BENCHMARKS.md)")
    add_machine_argument(ap)
    args = ap.parse_args()
    keep_freed_memory()
    machine = hardware()
    torch.set_num_threads(1)
    cfg = C.load(args.config, [f"model.encoder={args.encoder}"])
    torch.manual_seed(0)
    model = build_model(cfg.model)
    frames = torch.randint(0, 256, (args.chunk, 64, 64, 3), dtype=torch.uint8)
    x = model.preprocess(frames)  # channels-last strides, as in training

    def whole_pass():
        logits, value = model(x)
        (logits.logsumexp(-1).sum() + value.sum()).backward()

    convs = conv_shapes(model, x)
    best_pass, best = float("inf"), {}
    peaks = {dt: 0.0 for dt in DTYPES}
    whole_pass()  # warm up
    for _ in range(args.rounds):
        best_pass = min(best_pass, seconds_per_call(whole_pass, args.seconds))
        for key, entry in convs.items():
            for dt in DTYPES:
                fwd, both, flops = conv_timer(key, entry["needs_input_grad"], dt, args.seconds)
                old = best.get((key, dt), (float("inf"), float("inf"), flops))
                best[key, dt] = (min(old[0], fwd), min(old[1], both), flops)
        for dt in DTYPES:
            autocast = "bf16" if dt == torch.bfloat16 else "off"
            peaks[dt] = max(peaks[dt], matmul_peak(torch.device("cpu"), autocast)[0])

    rows, conv_total = [], 0.0
    for key, entry in convs.items():
        shape, cin, cout, k, *_ = key
        cells = []
        for dt in DTYPES:
            fwd, both, flops = best[key, dt]
            back = max(both - fwd, 1e-9)
            back_flops = flops * (2 if entry["needs_input_grad"] else 1)
            cells.append(f"{fwd * 1e3:.2f} / {back * 1e3:.2f} | {flops / fwd / 1e9:.0f} / {back_flops / back / 1e9:.0f}")
            if dt == torch.float32:
                conv_total += both * entry["count"]
        rows.append(f"| {entry['name']} | {entry['count']} | {cin}->{cout}, {k[0]}x{k[1]} on {shape[2]}x{shape[3]} | "
                    + " | ".join(cells) + " |")
        print(rows[-1])
    share = conv_total / best_pass
    peak_text = ", ".join(f"{str(dt).removeprefix('torch.')} {p / 1e9:.0f} GFLOP/s" for dt, p in peaks.items())
    print(f"whole pass {best_pass * 1e3:.1f} ms ({args.chunk / best_pass:.0f} samples/s), "
          f"float32 convolutions {conv_total * 1e3:.1f} ms ({share:.0%}); matmul peak {peak_text}")
    head = ("| convolution | times per pass | shape | float32 ms forward / backward | float32 GFLOP/s forward / backward "
            "| bfloat16 ms forward / backward | bfloat16 GFLOP/s forward / backward |\n"
            "| --- | --- | --- | --- | --- | --- | --- |")
    cmd = "python benchmarks/update_breakdown.py " + shlex.join(sys.argv[1:])
    body = (f"Measured {time.strftime('%Y-%m-%d')} on {machine}, timed on 1 thread as each update thread runs; "
            f"command: `{cmd.strip()}`. `{args.config}` {args.encoder} network, chunks of {args.chunk} frames, "
            f"best of {args.rounds} interleaved rounds.\n\n"
            f"One forward+backward pass as training runs it: **{best_pass * 1e3:.1f} ms** "
            f"({args.chunk / best_pass:.0f} samples/s), of which the float32 convolutions, timed alone, take "
            f"{conv_total * 1e3:.1f} ms (**{share:.0%}**). Matrix-product peak on one thread: {peak_text}"
            + f".\n\n{head}\n" + "\n".join(rows) + "\n\n"
            "Backward computes the weight and bias gradients, and the input gradient except for the first "
            "convolution (the frames need none).")
    if args.write:
        write_section(args.write, "update-breakdown",
                      "Where the CPU update's time goes (benchmarks/update_breakdown.py)", body,
                      machine=args.machine)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
