"""rlsight: train, evaluate, compare and look inside PPO agents on Procgen."""

__version__ = "0.1.0"
