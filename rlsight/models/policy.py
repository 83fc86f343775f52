"""Actor-critic network: encoder -> policy logits and value."""

from __future__ import annotations

import math

import torch
from torch import nn

from rlsight.config import ModelConfig
from rlsight.models.registry import encoder_class

OBS_SHAPE = (3, 64, 64)
NUM_ACTIONS = 15


class ActorCritic(nn.Module):
    """Takes uint8 frames (N, H, W, C) or float frames in [0, 1] (N, C, H, W): Procgen's
    (64, 64, 3) by default, Atari's 4 stacked grey frames (84, 84, 4) with ``obs_shape=(4, 84, 84)``.

    ``forward`` returns (logits (N, A), value (N,)). With ``aux_value`` it also has PPG's
    auxiliary value head (Cobbe et al. 2021), read by ``forward_aux``.
    """

    def __init__(self, cfg: ModelConfig, num_actions: int = NUM_ACTIONS, obs_shape=OBS_SHAPE, aux_value: bool = False):
        super().__init__()
        self.encoder = encoder_class(cfg.encoder)(tuple(obs_shape), cfg)
        self.policy = nn.Linear(self.encoder.out_features, num_actions)
        self.value = nn.Linear(self.encoder.out_features, 1)
        self.aux_value = nn.Linear(self.encoder.out_features, 1) if aux_value else None
        self.num_actions = num_actions
        if cfg.init == "orthogonal":
            orthogonal_init(self)

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

    def forward_aux(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Frames -> (policy logits, value, auxiliary value); needs ``aux_value=True``."""
        if self.aux_value is None:
            raise ValueError("this network has no auxiliary value head (built with aux_value=False)")
        h = self.encoder(self.preprocess(obs))
        return self.policy(h), self.value(h).squeeze(-1), self.aux_value(h).squeeze(-1)


def orthogonal_init(net: ActorCritic) -> None:
    """Every convolution and linear layer orthogonal with gain sqrt(2), the policy head 0.01 (a
    near-uniform first policy), the value heads 1; biases 0. For Nature-DQN this is CleanRL's
    ppo_atari.py (openai/baselines' scheme); on IMPALA's residual blocks it is not a published
    scheme (CleanRL's ppo_procgen.py initialises only the heads)."""
    heads: dict[nn.Module, float] = {net.policy: 0.01, net.value: 1.0}
    if net.aux_value is not None:
        heads[net.aux_value] = 1.0
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(m.weight, heads.get(m, math.sqrt(2)))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def build_model(cfg: ModelConfig, num_actions: int = NUM_ACTIONS, obs_shape=OBS_SHAPE) -> ActorCritic:
    """A freshly initialised actor-critic for ``cfg`` (frames (C, H, W); Procgen's by default)."""
    return ActorCritic(cfg, num_actions, obs_shape)

