"""Imported once by the fork server of tests/forked.py, before it forks any command:
every ``rlsight`` subcommand's modules, the trainer and what it imports on first use
(torch._dynamo, from the first optimizer; matplotlib for progress.png), and one procgen
environment made and closed (the first one in a process takes about 3 s: procgen loads
its games' assets then)."""

import matplotlib
import torch._dynamo  # noqa: F401 - imported by torch.optim's first optimizer

from rlsight.cli.main import build_parser
from rlsight.training import train  # noqa: F401 - imported for the forked commands

matplotlib.use("Agg")  # as rlsight.training.progress does, before pyplot
import matplotlib.pyplot  # noqa: E402, F401

build_parser()


def _warm_procgen() -> None:
    from procgen import ProcgenGym3Env

    env = ProcgenGym3Env(num=1, env_name="starpilot", num_levels=1, start_level=0, distribution_mode="easy")
    env.close()


_warm_procgen()
