"""Which memory layout do the convolutions run in, and what is it worth?

Procgen hands over frames as uint8 (N, H, W, C). ``ActorCritic.preprocess``
permutes them to (N, C, H, W) without copying, so the float input has
channels-last strides and every convolution after it runs channels-last. This
times, side by side in one process, the network on

- ``as given``: the permuted frames, as training feeds them;
- ``NCHW``: the same values copied to contiguous (N, C, H, W);
- ``channels-last weights``: as given, with the weights channels-last too
  (what the removed option ``train.channels_last`` added),

for the update's unit of work (forward and backward over a chunk, one thread,
as each update thread runs it) and for rollout inference (all environments in
one pass, all threads).

    python benchmarks/layout.py --write BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import copy
import shlex
import sys
import time
from pathlib import Path

import torch

from rlsight import config as C
from rlsight.bench import hardware, keep_freed_memory, seconds_per_call, write_section
from rlsight.models import build_model

LAYOUTS = ("as given", "NCHW", "channels-last weights")


def inputs(frames: torch.Tensor) -> dict[str, torch.Tensor]:
    given = frames.permute(0, 3, 1, 2).float().div_(255.0)
    return {"as given": given, "NCHW": given.contiguous(), "channels-last weights": given}


def rate(fn, samples: int, seconds: float) -> float:
    """Samples per second of ``fn`` over at least ``seconds``."""
    return samples / seconds_per_call(fn, seconds)


def measure(config: str, encoder: str, chunk: int, envs: int, rounds: int, seconds: float) -> dict:
    cfg = C.load(config, [f"model.encoder={encoder}"])
    torch.manual_seed(0)
    plain = build_model(cfg.model)
    models = {"as given": plain, "NCHW": plain,
              "channels-last weights": copy.deepcopy(plain).to(memory_format=torch.channels_last)}
    gen = torch.Generator().manual_seed(0)
    train_x = inputs(torch.randint(0, 256, (chunk, 64, 64, 3), dtype=torch.uint8, generator=gen))
    act_x = inputs(torch.randint(0, 256, (envs, 64, 64, 3), dtype=torch.uint8, generator=gen))
    threads = torch.get_num_threads()

    def fwd_bwd(name):
        def run():
            logits, value = models[name](train_x[name])
            (logits.logsumexp(-1).sum() + value.sum()).backward()
        return run

    def infer(name):
        def run():
            with torch.inference_mode():
                models[name](act_x[name])
        return run

    best = {(kind, name): 0.0 for kind in ("update", "inference") for name in LAYOUTS}
    for _ in range(rounds):  # interleaved, best of the rounds: the machine is shared
        for name in LAYOUTS:
            torch.set_num_threads(1)
            best["update", name] = max(best["update", name], rate(fwd_bwd(name), chunk, seconds))
            torch.set_num_threads(threads)
            best["inference", name] = max(best["inference", name], rate(infer(name), envs, seconds))
    with torch.no_grad():
        ref = plain(act_x["as given"])[0]
        diff = max(float((models[n](act_x[n])[0] - ref).abs().max()) for n in LAYOUTS)
    return {"best": best, "diff": diff, "threads": threads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="procgen-paper", help="preset or TOML file (default procgen-paper)")
    ap.add_argument("--encoders", default="impala,nature", help="comma-separated (default impala,nature)")
    ap.add_argument("--chunk", type=int, default=64, help="update chunk, as the CPU fast path uses (default 64)")
    ap.add_argument("--envs", type=int, default=80, help="frames per inference pass (default 80: 64 + 16 held-out)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.5, help="length of one timing (default 1.5)")
    ap.add_argument("--write", type=Path, help="write the results into this markdown file (BENCHMARKS.md)")
    args = ap.parse_args()
    keep_freed_memory()
    rows = []
    for enc in args.encoders.split(","):
        r = measure(args.config, enc, args.chunk, args.envs, args.rounds, args.seconds)
        b = r["best"]
        for kind, what in (("update", f"forward+backward, chunk {args.chunk}, 1 thread"),
                           ("inference", f"inference, {args.envs} frames, {r['threads']} threads")):
            given = b[kind, "as given"]
            cells = " | ".join(f"{b[kind, n]:,.0f}" for n in LAYOUTS)
            rows.append(f"| {enc} | {what} | {cells} | {given / b[kind, 'NCHW']:.2f}x | {r['diff']:.1e} |")
            print(f"{enc:7s} {kind:9s} " + "  ".join(f"{n}: {b[kind, n]:,.0f}/s" for n in LAYOUTS))
    head = ("| encoder | pass | as given (samples/s) | NCHW (samples/s) | channels-last weights (samples/s) "
            "| as given / NCHW | max abs logit diff |\n| --- | --- | --- | --- | --- | --- | --- |")
    cmd = "python benchmarks/layout.py " + shlex.join(sys.argv[1:])
    body = (f"Measured {time.strftime('%Y-%m-%d')} on {hardware()}; command: `{cmd.strip()}`. "
            f"`{args.config}` networks, random weights and frames; best of {args.rounds} interleaved rounds "
            f"of {args.seconds:g} s each.\n\n{head}\n" + "\n".join(rows) + "\n\n"
            "\"As given\" is what training runs: Procgen's uint8 (N, H, W, C) frames permuted to (N, C, H, W) "
            "without a copy, so the convolutions see channels-last strides and run channels-last. "
            "\"Channels-last weights\" is what the removed option `train.channels_last` added. The logits agree to float rounding.")
    if args.write:
        write_section(args.write, "layout", "Memory layout of the convolutions (benchmarks/layout.py)", body)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
