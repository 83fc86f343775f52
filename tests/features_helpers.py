"""Synthetic models with planted features, for the feature tests.

``ColourNet``: 8x8 average pooling, a 1x1 convolution from RGB to 6 channels with
chosen weights, a ReLU (layer ``encoder``): each colour a planted feature, a
direction in channel space. ``colour_frames`` scatters red, green and blue 8x8
squares independently over a black 64x64 frame, so the colours' amounts vary
independently between frames.

``QuadrantNet``: for ``tests/toy_env.QuadrantEnv``: 32x32 pooling, channels 0-1
fire on the lit quadrant (feature "lit", which drives the action), channels 2-3 on
the dark ones (feature "dark", used by nothing but the value).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rlsight.models.policy import ActorCritic

# colour -> (channel, weight) pairs of the planted direction
RED = {0: 1.0, 1: 0.6}
GREEN = {2: 0.8, 3: 1.0}
BLUE = {4: 1.0, 5: 0.5}
COLOUR_INDEX = {"red": 0, "green": 1, "blue": 2}


class ColourNet(nn.Module):
    """Planted colour features (``features``: colour name -> {channel: weight}) at ``encoder.2``;
    random heads (seeded) on top. ``planted=None`` gives random 1x1 weights (the null's architecture)."""

    def __init__(self, features: dict[str, dict[int, float]] | None, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        conv = nn.Conv2d(3, 6, 1, bias=False)
        with torch.no_grad():
            if features is None:
                conv.weight.copy_(torch.randn(6, 3, 1, 1, generator=g))
            else:
                conv.weight.zero_()
                for colour, chans in features.items():
                    for c, w in chans.items():
                        conv.weight[c, COLOUR_INDEX[colour]] = w
        self.encoder = nn.Sequential(nn.AvgPool2d(8), conv, nn.ReLU())
        self.policy = nn.Linear(6 * 64, 15)
        self.value = nn.Linear(6 * 64, 1)
        with torch.no_grad():
            for p in (*self.policy.parameters(), *self.value.parameters()):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(ActorCritic.preprocess(obs)).flatten(1)
        return self.policy(h), self.value(h).squeeze(-1)


def colour_frames(n: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, 64, 64, 3): 0-4 squares of each of red, green, blue on aligned 8x8 cells."""
    rng = np.random.default_rng(seed)
    obs = np.zeros((n, 64, 64, 3), np.uint8)
    for i in range(n):
        for ch in range(3):
            for _ in range(rng.integers(0, 5)):
                y, x = rng.integers(0, 8, 2) * 8
                obs[i, y:y + 8, x:x + 8, ch] = 255
    return obs


def planted_maps(obs: np.ndarray, colour: str) -> np.ndarray:
    """(n, 8, 8): where ``colour`` is on, per 8x8 cell (the planted feature's true map)."""
    c = obs[..., COLOUR_INDEX[colour]].astype(np.float32) / 255.0
    return c.reshape(len(obs), 8, 8, 8, 8).mean(axis=(2, 4))


class QuadrantNet(nn.Module):
    """Acts on the lit quadrant (logit 20 on its action when feature "lit" is present, all
    logits 0 without it); the "dark" channels feed only the value."""

    def __init__(self):
        super().__init__()
        conv = nn.Conv2d(3, 4, 1)
        with torch.no_grad():
            conv.weight.zero_()
            conv.weight[0:2] = 1.0 / 3.0       # brightness
            conv.weight[2:4] = -1.0 / 3.0      # darkness = 1 - brightness
            conv.bias.copy_(torch.tensor([0.0, 0.0, 1.0, 1.0]))
        self.encoder = nn.Sequential(nn.AvgPool2d(32), conv, nn.ReLU())

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.encoder(ActorCritic.preprocess(obs))  # (N, 4, 2, 2)
        lit = (a[:, 0] + a[:, 1]).flatten(1)            # (N, 4): quadrant k = row-major cell k
        logits = torch.cat([10.0 * lit, torch.zeros(len(a), 11, dtype=a.dtype)], dim=1)
        return logits, (a[:, 2] + a[:, 3]).flatten(1).sum(1)
