"""Actor-critic network: encoder -> policy logits and value."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Categorical

from rlsight.config import ModelConfig
from rlsight.models.registry import encoder_class

OBS_SHAPE = (3, 64, 64)
NUM_ACTIONS = 15


class ActorCritic(nn.Module):
    """Takes uint8 frames (N, 64, 64, 3) or float frames in [0, 1] (N, 3, 64, 64).

    ``forward`` returns (logits (N, A), value (N,)).
    """

    def __init__(self, cfg: ModelConfig, num_actions: int = NUM_ACTIONS, obs_shape=OBS_SHAPE):
        super().__init__()
        self.encoder = encoder_class(cfg.encoder)(tuple(obs_shape), cfg)
        self.policy = nn.Linear(self.encoder.out_features, num_actions)
        self.value = nn.Linear(self.encoder.out_features, 1)
        self.num_actions = num_actions

    @staticmethod
    def preprocess(obs: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC -> float NCHW in [0, 1]; float input passes through."""
        if obs.dtype == torch.uint8:
            return obs.permute(0, 3, 1, 2).float().div_(255.0)
        return obs

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames -> (policy logits (N, A), value (N,))."""
        h = self.encoder(self.preprocess(obs))
        return self.policy(h), self.value(h).squeeze(-1)

    def act(self, obs: torch.Tensor, greedy: bool = False):
        """Sample actions: returns (action, log_prob, value)."""
        logits, value = self(obs)
        dist = Categorical(logits=logits)
        action = logits.argmax(-1) if greedy else dist.sample()
        return action, dist.log_prob(action), value


def build_model(cfg: ModelConfig) -> ActorCritic:
    """An ActorCritic for ``cfg``."""
    return ActorCritic(cfg)
