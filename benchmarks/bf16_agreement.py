"""How far do bf16 forward passes (``train.autocast=bf16``) move PPO's gradient
away from float32's?

For each run: one rollout of its own config, acted by its saved model; then, on
``--minibatches`` minibatches of the config's size, the gradient of the PPO loss
with the forward pass in float32, in bf16, and in bf16 with the policy and value
heads kept in float32. Reported against float32: the gradients' cosine and
relative error ||g - g_fp32|| / ||g_fp32||, and the mean absolute change of the
taken actions' log-probabilities and of the values. For scale, the last column
is the relative difference between the float32 gradients of two different
minibatches of the same rollout: the sampling noise every update lives with.

    python benchmarks/bf16_agreement.py runs/nature runs/impala --write BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn.functional import cosine_similarity

from rlsight import load_policy
from rlsight.bench import (
    RolloutCollector,
    add_machine_argument,
    autocast_context,
    hardware,
    minibatch_advantages,
    value_clip_range,
    write_section,
)
from rlsight.envs import make_env
from rlsight.ppo import ppo_loss

VARIANTS = ("bf16", "bf16, heads float32")


def forward(model, x: torch.Tensor, variant: str):
    """(logits, values) in float32, the forward pass in ``variant``'s precision."""
    with autocast_context(x.device, "off" if variant == "float32" else "bf16"):
        h = model.encoder(x)
        if variant == "bf16, heads float32":
            with torch.autocast(x.device.type, enabled=False):
                h = h.float()
                return model.policy(h), model.value(h).squeeze(-1)
        return model.policy(h).float(), model.value(h).squeeze(-1).float()


def gradient(model, batch, idx: torch.Tensor, cfg, variant: str):
    """(flat loss gradient, log-probabilities of the taken actions, values) on minibatch ``idx``."""
    p = cfg.ppo
    model.zero_grad(set_to_none=True)
    logits, values = forward(model, model.preprocess(batch.obs[idx]), variant)
    adv = minibatch_advantages(batch.advantages[idx], p)
    s = ppo_loss(logits, values, batch.actions[idx], batch.logp[idx], batch.values[idx], batch.returns[idx],
                        adv, clip_eps=p.clip_eps, value_clip_eps=value_clip_range(p), value_coef=p.value_coef,
                        entropy_coef=p.entropy_coef)
    (s.total / len(idx)).backward()
    flat = torch.cat([q.grad.flatten() for q in model.parameters() if q.grad is not None])
    logp = torch.log_softmax(logits.detach(), -1).gather(1, batch.actions[idx][:, None]).squeeze(1)
    return flat, logp, values.detach()


def measure(run: str, minibatches: int, device: str, seed: int) -> dict:
    model, cfg, step = load_policy(run, device)
    dev = torch.device(device)
    torch.manual_seed(seed)
    collector = RolloutCollector(cfg, model, dev, make_env, seed=seed)
    collector.start()
    try:
        batch = collector.collect()["batch"]
    finally:
        collector.close()
    mb = cfg.ppo.batch_size
    perm = torch.randperm(len(batch), device=dev)
    n = min(minibatches, len(batch) // mb - 1)
    rows = {v: {"cos": [], "rel": [], "logp": [], "value": []} for v in VARIANTS}
    noise = []
    for k in range(n):
        idx = perm[k * mb : (k + 1) * mb]
        g0, lp0, v0 = gradient(model, batch, idx, cfg, "float32")
        other, _, _ = gradient(model, batch, perm[(k + 1) * mb : (k + 2) * mb], cfg, "float32")
        noise.append(((other - g0).norm() / g0.norm()).item())
        for v in VARIANTS:
            g, lp, val = gradient(model, batch, idx, cfg, v)
            r = rows[v]
            r["cos"].append(cosine_similarity(g, g0, 0).item())
            r["rel"].append(((g - g0).norm() / g0.norm()).item())
            r["logp"].append((lp - lp0).abs().mean().item())
            r["value"].append((val - v0).abs().mean().item())
    return {"run": Path(run).name, "encoder": cfg.model.encoder, "step": step, "minibatches": n, "size": mb,
            "noise": statistics.mean(noise),
            "rows": {v: {k: statistics.mean(x) for k, x in r.items()} for v, r in rows.items()}}


def table(results: list[dict]) -> str:
    lines = ["| run (encoder, steps trained) | forward pass | gradient cosine | gradient error | "
             "mean abs. change of log-prob | of value | minibatch-to-minibatch difference (float32) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for res in results:
        name = f"{res['run']} ({res['encoder']}, {res['step']:,})"
        for v, r in res["rows"].items():
            lines.append(f"| {name} | {v} | {r['cos']:.5f} | {r['rel']:.2%} | {r['logp']:.4f} | {r['value']:.4f} | "
                         f"{res['noise']:.0%} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories (their saved models and configs are used)")
    ap.add_argument("--minibatches", type=int, default=8, help="minibatches compared per run (default 8)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the rollout's environments and actions")
    ap.add_argument("--write", type=Path, help="write the results into this markdown file (BENCHMARKS.md)")
    add_machine_argument(ap)
    a = ap.parse_args()
    results = [measure(r, a.minibatches, a.device, a.seed) for r in a.runs]
    out = table(results)
    print(out)
    if a.write:
        sizes = ", ".join(f"{r['minibatches']} minibatches of {r['size']}" for r in results)
        body = (f"{hardware(a.device)}; {time.strftime('%Y-%m-%d')}; {sizes}, one rollout of each run's own config.\n"
                f"Command: `python benchmarks/bf16_agreement.py {shlex.join(sys.argv[1:])}`\n\n{out}\n")
        write_section(a.write, "bf16-agreement", "Gradients with bf16 forward passes (benchmarks/bf16_agreement.py)",
                      body, a.device, a.machine)


if __name__ == "__main__":
    main()
