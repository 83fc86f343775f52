"""Timing helpers for benchmarks: waiting for the GPU, timing a call, a random PPO batch, the matmul peak."""

from __future__ import annotations

import time

import torch


def sync(device: torch.device | str) -> None:
    """Wait for the GPU's queued work, so that a timer stops when the work is done."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def random_batch(size: int, device: torch.device, obs_shape: tuple[int, int, int] = (64, 64, 3),
                 num_actions: int = 15):
    """A PPO batch of ``size`` random frames (Procgen's 64x64x3 by default) and made-up targets, for timing the update."""
    from rlsight.ppo import Batch

    return Batch(
        obs=torch.randint(0, 256, (size, *obs_shape), dtype=torch.uint8, device=device),
        actions=torch.randint(0, num_actions, (size,), device=device), logp=torch.full((size,), -2.7, device=device),
        values=torch.randn(size, device=device), returns=torch.randn(size, device=device),
        advantages=torch.randn(size, device=device),
    )


def seconds_per_call(fn, seconds: float) -> float:
    """Mean seconds per call of ``fn``, calling it for at least ``seconds``."""
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return dt / n


def matmul_peak(device: torch.device, autocast: str) -> tuple[float, str]:
    """FLOP/s of a large square matrix product in the precision the network runs
    in (bf16 with autocast; on a GPU float32 as TF32, as cuDNN runs convolutions)."""
    n = 4096 if device.type == "cuda" else 2048
    dtype = torch.bfloat16 if autocast == "bf16" else torch.float32
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    tf32 = device.type == "cuda" and dtype == torch.float32
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32 or old
    try:
        best, reps = float("inf"), 20 if device.type == "cuda" else 5
        for _ in range(3):
            a @ b
            sync(device)
            t0 = time.perf_counter()
            for _ in range(reps):
                a @ b
            sync(device)
            best = min(best, (time.perf_counter() - t0) / reps)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    return 2 * n**3 / best, "tf32" if tf32 else str(dtype).removeprefix("torch.")
