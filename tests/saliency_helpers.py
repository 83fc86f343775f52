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


class ActionRegionNet(nn.Module):
    """Action 0's logit reads region ``a`` only (40 * mean of x^2 there, about 13 on uniform
    noise) and is the most likely at p(0) ~ 0.2; action 1's logit reads region ``b`` (-30 + 40 *
    mean x^2, p(1) ~ 1e-13) and the value reads ``b``; the other logits are constant 12. So
    blurring ``b`` moves the logits about as much as blurring ``a`` but leaves p(0) unchanged:
    a score of the chosen action must point at ``a`` only."""

    def __init__(self, a: tuple[int, int, int, int] = (8, 24, 8, 24), b: tuple[int, int, int, int] = (40, 56, 40, 56)):
        super().__init__()
        self.a, self.b = a, b
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the model a device and a parameter to reset

    @staticmethod
    def region(box: tuple[int, int, int, int], grow: int = 0, size: int = 64) -> torch.Tensor:
        m = torch.zeros(size, size, dtype=torch.bool)
        y0, y1, x0, x1 = box
        m[max(0, y0 - grow):y1 + grow, max(0, x0 - grow):x1 + grow] = True
        return m

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dtype == torch.uint8:
            x = x.permute(0, 3, 1, 2).float() / 255
        (ay0, ay1, ax0, ax1), (by0, by1, bx0, bx1) = self.a, self.b
        ma = x[:, :, ay0:ay1, ax0:ax1].pow(2).mean((1, 2, 3))
        mb = x[:, :, by0:by1, bx0:bx1].pow(2).mean((1, 2, 3))
        rest = (0 * ma[:, None] + 12 + self.anchor).expand(-1, 13)  # no batch size baked in when traced
        logits = torch.cat([(40 * ma)[:, None], (-30 + 40 * mb)[:, None], rest], 1)
        return logits, 40 * mb + self.anchor


class BlindNet(nn.Module):
    """Ignores its input: fixed logits and value (times 0 * the input, so gradients exist and are 0)."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.linspace(-1, 1, 15))
        self.v = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dtype == torch.uint8:
            x = x.permute(0, 3, 1, 2).float() / 255
        zero = 0 * x.flatten(1).sum(1)
        return self.bias + zero[:, None], self.v + zero
