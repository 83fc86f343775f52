"""PPO maths as functions over tensors: GAE, losses, reward scaling, the update."""

from rlsight.ppo.gae import compute_gae
from rlsight.ppo.losses import clipped_surrogate, ppo_loss, value_loss
from rlsight.ppo.reward_norm import RewardNormalizer, RunningMeanStd
from rlsight.ppo.update import Batch, ppo_update

__all__ = [
    "compute_gae", "clipped_surrogate", "ppo_loss", "value_loss",
    "RewardNormalizer", "RunningMeanStd", "Batch", "ppo_update",
]
