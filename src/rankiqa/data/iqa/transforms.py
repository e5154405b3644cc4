"""The input protocol on the training side: IQA images cached as resized uint8 tensors.

Everything else (crops, views, the pooling parser) is :mod:`rankiqa.core.preprocess`, so that
fine-tuning, ``evaluate`` and ``score`` prepare images the same way.
"""

from __future__ import annotations

import numpy as np
import torch

from rankiqa.core.preprocess import (
    InputProtocol,
    image_views,
    prepare_image,
    to_float,
    to_float_tensor,
)

__all__ = ["eval_views", "prepare_uint8"]


def prepare_uint8(image: np.ndarray, resize: int | None, crop_size: int) -> torch.Tensor:
    """Decoded H×W×3 uint8 image → resized 3×H×W uint8 tensor (compact for in-memory caches)."""
    protocol = InputProtocol(resize=resize, test_crops="center", crop_size=crop_size)
    prepared = prepare_image(to_float_tensor(image), protocol)
    return prepared.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def eval_views(
    image: torch.Tensor, test_crops: str, crop_size: int, resize: int | None = None, seed: int = 0
) -> torch.Tensor:
    """Test-time views (V×3×h×w float) of one 3×H×W image (uint8 or float)."""
    protocol = InputProtocol(resize=resize, test_crops=test_crops, crop_size=crop_size)
    return image_views(to_float(image), protocol, seed=seed)
