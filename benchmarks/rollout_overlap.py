"""Does stepping one group of environments while the network acts for another
(``train.env_groups``) hide the stepping time? Measured without a GPU by standing
in for one: the "network" sleeps for a fixed time per forward pass, as the host
does while a GPU computes, leaving the CPU cores to Procgen.

    python benchmarks/rollout_overlap.py                     # procgen-paper's 64 + 16 envs
    python benchmarks/rollout_overlap.py --latency-ms 0.5,1,2 --write BENCHMARKS.md

For each latency it times whole rollouts (``RolloutCollector.collect``) with one
group and with two, interleaved, and reports environment steps per second and
the ratio. With two groups there are twice as many forward passes per step, so
two groups pay off while stepping a group takes longer than a forward pass.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import hardware, write_section  # noqa: E402

from rlsight import config as C  # noqa: E402
from rlsight.envs import make_env  # noqa: E402
from rlsight.training.rollout import RolloutCollector  # noqa: E402


class SleepingNetwork(torch.nn.Module):
    """Uniform logits and zero values after ``latency`` seconds, like a host waiting for a GPU."""

    def __init__(self, latency: float):
        super().__init__()
        self.latency = latency
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        time.sleep(self.latency)
        return torch.zeros(len(x), 15), torch.zeros(len(x))


def rollout_sps(cfg: C.Config, latency: float, groups: int, rollouts: int) -> float:
    cfg.train.env_groups = groups
    collector = RolloutCollector(cfg, SleepingNetwork(latency), torch.device("cpu"), make_env, seed=0)
    collector.start()
    collector.collect()  # warm-up
    t0 = time.perf_counter()
    for _ in range(rollouts):
        collector.collect()
    seconds = time.perf_counter() - t0
    collector.close()
    return cfg.env.num_envs * cfg.ppo.num_steps * rollouts / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="procgen-paper")
    ap.add_argument("--latency-ms", default="0.5,1,2", help="comma-separated forward-pass times to stand in for")
    ap.add_argument("--num-steps", type=int, default=64, help="rollout length (the preset's is 256)")
    ap.add_argument("--rollouts", type=int, default=3, help="timed rollouts per measurement")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved rounds; the best of each is kept")
    ap.add_argument("--write", metavar="BENCHMARKS.md", help="write the results into this file's rollout_overlap section")
    args = ap.parse_args()
    cfg = C.load(args.config, [f"ppo.num_steps={args.num_steps}", f"ppo.batch_size={args.num_steps}"])
    torch.set_num_threads(1)
    rows = []
    for ms in (float(v) for v in args.latency_ms.split(",")):
        best = {1: 0.0, 2: 0.0}
        for _ in range(args.repeats):
            for g in best:
                best[g] = max(best[g], rollout_sps(cfg, ms / 1000, g, args.rollouts))
        rows.append((ms, best[1], best[2]))
        print(f"forward {ms:5g} ms   one group {best[1]:7.0f} sps   two groups {best[2]:7.0f} sps   "
              f"ratio {best[2] / best[1]:.2f}", flush=True)
    if args.write:
        lines = [
            f"Measured {time.strftime('%Y-%m-%d')} on {hardware()}; command: "
            f"`python benchmarks/rollout_overlap.py {shlex.join(sys.argv[1:])}`. {args.config}: "
            f"{cfg.env.num_envs} training + {cfg.env.num_test_envs} held-out Procgen environments, "
            f"the network replaced by a sleep per forward pass (a host waiting for a GPU).",
            "",
            "| forward pass | one group SPS | two groups SPS | two / one |",
            "| --- | --- | --- | --- |",
            *(f"| {ms:g} ms | {a:.0f} | {b:.0f} | {b / a:.2f} |" for ms, a, b in rows),
        ]
        write_section(Path(args.write), "rollout_overlap", "Rollouts with environment groups (benchmarks/rollout_overlap.py)",
                      "\n".join(lines))
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
