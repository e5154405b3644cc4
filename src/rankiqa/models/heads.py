"""Regression heads mapping a backbone feature map to one quality score per image."""

from __future__ import annotations

import torch
from torch import nn


class PaperHead(nn.Module):
    """The paper's fully connected head: fixed-size pooling, flatten, fc layers, fc → 1.

    Feature maps are adaptively average-pooled to ``grid``×``grid`` (a no-op at the
    training input size), so the head also accepts other image sizes.
    """

    def __init__(self, channels: int, grid: int, hidden: tuple[int, ...], dropout: float = 0.5):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(grid)
        layers: list[nn.Module] = []
        width = channels * grid * grid
        for size in hidden:
            layers += [nn.Dropout(dropout), nn.Linear(width, size), nn.ReLU(inplace=True)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.fc = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(features), 1)).squeeze(1)


class CompactHead(nn.Module):
    """Global average and max pooling, then a small MLP: any input size, few parameters."""

    def __init__(self, channels: int, hidden: int = 256, dropout: float = 0.25):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(2 * channels, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)
        return self.fc(pooled).squeeze(1)


class StatsHead(nn.Module):
    """Multi-level statistics pooling: per-channel mean and standard deviation of several
    backbone stages, batch-normalised, then a small MLP. Any input size.

    Low-level statistics (noise, blur, blockiness) live in early stages, so pooling several
    stages suits quality better than the last map alone.
    """

    multi_level = True

    def __init__(self, channels: tuple[int, ...], hidden: int = 256, dropout: float = 0.25):
        super().__init__()
        width = 2 * sum(channels)
        self.norm = nn.BatchNorm1d(width)
        self.fc = nn.Sequential(
            nn.Linear(width, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        pooled = []
        for f in features:
            flat = f.flatten(2)
            pooled += [flat.mean(dim=2), flat.std(dim=2)]
        return self.fc(self.norm(torch.cat(pooled, dim=1))).squeeze(1)


HEADS = ("paper", "compact", "stats")
