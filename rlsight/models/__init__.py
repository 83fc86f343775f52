"""Encoders, the actor-critic network, the encoder registry, action sampling, and reading
the original project's checkpoints (``original_import``)."""

from rlsight.models.policy import NUM_ACTIONS, ActorCritic, build_model
from rlsight.models.registry import ENCODERS, register_encoder
from rlsight.models.sampling import action_distribution, sample_actions, sample_with_log_prob

__all__ = ["ActorCritic", "build_model", "ENCODERS", "register_encoder", "NUM_ACTIONS", "sample_actions",
           "sample_with_log_prob", "action_distribution"]
