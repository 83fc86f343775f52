"""Convolutional encoders. Layer names follow the original project's checkpoints
(see docs/run-directory.md) so that its state dicts load unchanged."""

from __future__ import annotations

import torch
from torch import nn

from rlsight.config import ModelConfig


class NatureEncoder(nn.Module):
    """Nature-DQN (Mnih et al. 2015): three convolutions and one linear layer."""

    def __init__(self, in_shape: tuple[int, int, int], cfg: ModelConfig):
        super().__init__()
        c, h, w = in_shape
        convs = nn.Sequential(
            nn.Conv2d(c, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = convs(torch.zeros(1, c, h, w)).shape[1]
        self.layers = nn.Sequential(*convs, nn.Linear(flat, cfg.n_features), nn.ReLU())
        self.out_features = cfg.n_features

    def last_conv(self) -> nn.Module:
        """The last convolutional stage (Grad-CAM's layer)."""
        return self.layers[4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Float frames (N, C, H, W) -> features (N, out_features)."""
        return self.layers(x)


class ResidualBlock(nn.Module):
    """x + conv2(relu(conv1(relu(x))))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the residual block."""
        return x + self.conv2(torch.relu(self.conv1(torch.relu(x))))


class ImpalaBlock(nn.Module):
    """conv 3x3 -> max-pool 3/2 -> two residual blocks."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.res1 = ResidualBlock(out_channels)
        self.res2 = ResidualBlock(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block; halves the height and width."""
        return self.res2(self.res1(self.pool(self.conv(x))))


class ImpalaEncoder(nn.Module):
    """IMPALA (Espeholt et al. 2018) residual encoder, widths configurable."""

    def __init__(self, in_shape: tuple[int, int, int], cfg: ModelConfig):
        super().__init__()
        c, h, w = in_shape
        chans = [c, *cfg.impala_channels]
        for i in range(len(cfg.impala_channels)):
            self.add_module(f"block{i + 1}", ImpalaBlock(chans[i], chans[i + 1]))
        self.n_blocks = len(cfg.impala_channels)
        with torch.no_grad():
            flat = self._convs(torch.zeros(1, c, h, w)).flatten(1).shape[1]
        self.fc = nn.Linear(flat, cfg.n_features)
        self.out_features = cfg.n_features

    def last_conv(self) -> nn.Module:
        """The last convolutional stage (Grad-CAM's layer)."""
        return getattr(self, f"block{self.n_blocks}")

    def _convs(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.n_blocks):
            x = getattr(self, f"block{i + 1}")(x)
        return torch.relu(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Float frames (N, C, H, W) -> features (N, out_features)."""
        return torch.relu(self.fc(self._convs(x).flatten(1)))
