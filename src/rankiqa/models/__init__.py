"""Quality networks: backbone + head giving one scalar per image (higher = better quality).

The tables :data:`~rankiqa.models.backbones.BACKBONES` and :data:`~rankiqa.models.head_specs.HEADS`
import no torch; the networks (:mod:`~rankiqa.models.networks`, :mod:`~rankiqa.models.heads`,
:mod:`~rankiqa.models.quality`) do, and are imported here only when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rankiqa.models.backbones import BACKBONES, IMAGENET_MEAN, IMAGENET_STD, BackboneSpec
from rankiqa.models.head_specs import HEADS, HeadSpec

if TYPE_CHECKING:  # pragma: no cover
    from rankiqa.models.heads import CompactHead, PaperHead, StatsHead
    from rankiqa.models.quality import (
        QualityNet,
        build_model,
        load_backbone_weights,
        model_from_config,
    )

#: torch-backed names, imported on first use (``import rankiqa.models`` stays torch-free)
_LAZY = {
    "CompactHead": "heads",
    "PaperHead": "heads",
    "StatsHead": "heads",
    "QualityNet": "quality",
    "build_model": "quality",
    "load_backbone_weights": "quality",
    "model_from_config": "quality",
}

__all__ = [
    "BACKBONES",
    "HEADS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BackboneSpec",
    "CompactHead",
    "HeadSpec",
    "PaperHead",
    "QualityNet",
    "StatsHead",
    "build_model",
    "load_backbone_weights",
    "model_from_config",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"rankiqa.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'rankiqa.models' has no attribute {name!r}")
