"""Hand-built networks for the saliency tests."""

from __future__ import annotations

import torch
from torch import nn


class RegionNet(nn.Module):
    """Logits and value computed only from the pixels inside ``box`` = (y0, y1, x0, x1),
    optionally only from some colour ``channels``. Shaped like ActorCritic."""

    def __init__(self, box: tuple[int, int, int, int] = (20, 44, 8, 32), channels: tuple[int, ...] = (0, 1, 2),
                 seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.box, self.channels = box, list(channels)
        y0, y1, x0, x1 = box
        self.hidden = nn.Linear(len(channels) * (y1 - y0) * (x1 - x0), 32)
        self.policy = nn.Linear(32, 15)
        self.value = nn.Linear(32, 1)

    def inside(self, size: int = 64) -> torch.Tensor:
        m = torch.zeros(size, size, dtype=torch.bool)
        y0, y1, x0, x1 = self.box
        m[y0:y1, x0:x1] = True
        return m

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dtype == torch.uint8:
            x = x.permute(0, 3, 1, 2).float() / 255
        y0, y1, x0, x1 = self.box
        h = torch.tanh(3 * self.hidden(x[:, self.channels, y0:y1, x0:x1].flatten(1)))
        return self.policy(h), self.value(h).squeeze(-1)
