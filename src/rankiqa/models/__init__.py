"""Quality networks: backbone + head giving one scalar per image (higher = better quality)."""

from rankiqa.models.backbones import BACKBONES, IMAGENET_MEAN, IMAGENET_STD, BackboneSpec
from rankiqa.models.heads import HEADS, CompactHead, PaperHead, StatsHead
from rankiqa.models.quality import (
    QualityNet,
    build_model,
    load_backbone_weights,
    model_from_config,
)

__all__ = [
    "BACKBONES",
    "HEADS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BackboneSpec",
    "CompactHead",
    "PaperHead",
    "StatsHead",
    "QualityNet",
    "build_model",
    "load_backbone_weights",
    "model_from_config",
]
