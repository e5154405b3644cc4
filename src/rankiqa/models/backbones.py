"""Feature extractors: a builder per architecture, each returning an ``nn.Module`` that maps
N×3×H×W normalised images to an N×C×h×w feature map, plus the metadata the heads need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    """What a head and the input pipeline need to know about a backbone."""

    name: str
    builder: Callable[[], nn.Module]
    channels: int  #: channels of the output feature map
    paper_grid: int  #: spatial size of the feature map at ``input_size`` (for the paper's fc head)
    paper_hidden: tuple[int, ...]  #: hidden fc widths of the paper's head
    input_size: int  #: training crop size
    torchvision_weights: str | None  #: torchvision weights enum used with ``weights="imagenet"``


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


def _alexnet() -> nn.Module:
    from torchvision.models import alexnet

    return alexnet().features


def _vgg16() -> nn.Module:
    from torchvision.models import vgg16

    return vgg16().features


def _mobilenet_v3_small() -> nn.Module:
    from torchvision.models import mobilenet_v3_small

    return mobilenet_v3_small().features


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
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


BACKBONES: dict[str, BackboneSpec] = {
    "shallow": BackboneSpec("shallow", Shallow, 32, 3, (), 227, None),
    "alexnet": BackboneSpec(
        "alexnet", _alexnet, 256, 6, (4096, 4096), 227, "AlexNet_Weights.IMAGENET1K_V1"
    ),
    "vgg16": BackboneSpec(
        "vgg16", _vgg16, 512, 7, (4096, 4096), 224, "VGG16_Weights.IMAGENET1K_V1"
    ),
    "resnet18": BackboneSpec(
        "resnet18", lambda: ResNetFeatures(18), 512, 7, (), 224, "ResNet18_Weights.IMAGENET1K_V1"
    ),
    "mobilenet_v3_small": BackboneSpec(
        "mobilenet_v3_small",
        _mobilenet_v3_small,
        576,
        7,
        (1024,),
        224,
        "MobileNet_V3_Small_Weights.IMAGENET1K_V1",
    ),
}
