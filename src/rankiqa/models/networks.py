"""The backbone networks: one builder function per entry of
:data:`rankiqa.models.backbones.BACKBONES` (named by its ``builder``), each returning an
``nn.Module`` that maps N×3×H×W normalised images to an N×C×h×w feature map."""

from __future__ import annotations

import torch
from torch import nn


class Shallow(nn.Module):
    """The paper's shallow network (conv3×3(32), pool 4/4, conv3×3(32), pool 4/4, conv3×3(32), conv12×12(32)).

    3×3 convolutions are zero-padded by one pixel so that a 227 input gives a 3×3×32 map.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(4, 4),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(4, 4),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 12),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def alexnet() -> nn.Module:
    from torchvision.models import alexnet as build

    return build().features


def vgg16() -> nn.Module:
    from torchvision.models import vgg16 as build

    return build().features


def efficientnet_lite0() -> nn.Module:
    from rankiqa.models.efficientnet_lite import EfficientNetLite

    return EfficientNetLite()


def efficientnet_lite1() -> nn.Module:
    from rankiqa.models.efficientnet_lite import LITE1_STAGES, EfficientNetLite

    return EfficientNetLite(LITE1_STAGES)


def efficientnet_lite2() -> nn.Module:
    from rankiqa.models.efficientnet_lite import LITE2_STAGES, EfficientNetLite

    return EfficientNetLite(LITE2_STAGES)


def mobilenet_v3_small() -> nn.Module:
    from torchvision.models import mobilenet_v3_small as build

    return build().features


class ResNetFeatures(nn.Module):
    """A torchvision ResNet without its pooling and classifier (state-dict keys unchanged)."""

    def __init__(self, depth: int = 18) -> None:
        super().__init__()
        from torchvision.models import resnet18, resnet50

        net = {18: resnet18, 50: resnet50}[depth]()
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_taps(x)[-1]

    def forward_taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of layer1 … layer4."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outputs = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            outputs.append(x)
        return outputs


def resnet18() -> nn.Module:
    return ResNetFeatures(18)


def shallow() -> nn.Module:
    return Shallow()


def feature_taps(backbone: nn.Module, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
    """Intermediate feature maps of ``backbone`` at the layer indices ``taps``.

    Sequential backbones are run layer by layer (stopping after the last tap); backbones with
    their own ``forward_taps`` (ResNet) use it.
    """
    if hasattr(backbone, "forward_taps"):
        return backbone.forward_taps(x)
    layers = backbone.features if isinstance(backbone, Shallow) else backbone
    outputs = []
    for index, layer in enumerate(layers):
        x = layer(x)
        if index in taps:
            outputs.append(x)
            if index == taps[-1]:
                break
    return outputs
