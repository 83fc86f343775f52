"""The training loop (collect, update, log, checkpoint, resume)."""

from rlsight.training.trainer import Trainer, resume, train

__all__ = ["Trainer", "train", "resume"]
