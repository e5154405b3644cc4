"""Regression heads mapping a backbone feature map to one quality score per image.

Which heads exist and what each can do: :data:`rankiqa.models.head_specs.HEADS`."""

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
    stages suits quality better than the last map alone. ``hidden=0`` makes the head linear
    (``fc`` is then one ``Linear``; a ridge-like head that generalises from few images).
    """

    multi_level = True

    def __init__(self, channels: tuple[int, ...], hidden: int = 256, dropout: float = 0.25):
        super().__init__()
        width = 2 * sum(channels)
        self.norm = nn.BatchNorm1d(width)
        if hidden == 0:
            self.fc = nn.Sequential(nn.Linear(width, 1))
            return
        self.fc = nn.Sequential(
            nn.Linear(width, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    @staticmethod
    def pool(features: list[torch.Tensor]) -> torch.Tensor:
        """N × 2·sum(channels): per-channel mean and standard deviation of every map."""
        pooled = []
        for f in features:
            flat = f.flatten(2)
            pooled += [flat.mean(dim=2), flat.std(dim=2)]
        return torch.cat(pooled, dim=1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.norm(self.pool(features))).squeeze(1)


def merge_stats_heads(heads: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One :class:`StatsHead` state dict (hidden width k·h; linear heads stay linear) whose
    output is the mean of ``k`` heads of width h (an ensemble merged exactly: each head's input
    normalisation is folded into its first layer; the normalisation statistics must be the
    same).

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> heads = [StatsHead((3,), hidden=4).eval() for _ in range(2)]
    >>> merged = StatsHead((3,), hidden=8).eval()
    >>> merged.load_state_dict(merge_stats_heads([h.state_dict() for h in heads]))
    <All keys matched successfully>
    >>> maps = [torch.rand(5, 3, 4, 4)]
    >>> torch.allclose(merged(maps), (heads[0](maps) + heads[1](maps)) / 2, atol=1e-6)
    True
    """
    if len(heads) == 1:
        return dict(heads[0])
    first = heads[0]
    for h in heads[1:]:
        if not (torch.equal(h["norm.running_mean"], first["norm.running_mean"])
                and torch.equal(h["norm.running_var"], first["norm.running_var"])):
            raise ValueError("heads standardised on different data cannot be merged")
    w1, b1 = [], []
    for h in heads:  # W (g * xhat + beta) + b  ==  (W * g) xhat + (W beta + b)
        w1.append(h["fc.0.weight"] * h["norm.weight"][None, :])
        b1.append(h["fc.0.weight"] @ h["norm.bias"] + h["fc.0.bias"])
    merged = {k: v.clone() for k, v in first.items() if k.startswith("norm.")}
    merged["norm.weight"] = torch.ones_like(first["norm.weight"])
    merged["norm.bias"] = torch.zeros_like(first["norm.bias"])
    if "fc.3.weight" not in first:  # linear heads: the mean of linear maps is linear
        merged["fc.0.weight"] = torch.stack(w1).mean(0)
        merged["fc.0.bias"] = torch.stack(b1).mean(0)
        return merged
    merged["fc.0.weight"] = torch.cat(w1)
    merged["fc.0.bias"] = torch.cat(b1)
    merged["fc.3.weight"] = torch.cat([h["fc.3.weight"] for h in heads], 1) / len(heads)
    merged["fc.3.bias"] = torch.stack([h["fc.3.bias"] for h in heads]).mean(0)
    return merged

