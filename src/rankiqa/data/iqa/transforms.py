"""The input protocol (contract 4) on the training side, sharing the test-time code of
:mod:`rankiqa.inference.preprocess` so that fine-tuning, ``evaluate`` and ``score`` agree.

An image is optionally resized so that its shorter side equals ``resize`` (bilinear with
antialiasing; ``None`` keeps the native resolution); an image whose shorter side is then still
below ``crop_size`` is upscaled so that it equals ``crop_size``. Training takes random
``crop_size`` crops; testing takes the views of ``test_crops``:

* ``full``: the whole (resized) image, one view (needs a size-agnostic head: compact or stats);
* ``center``: one center crop;
* ``crops:N``: N random crops (the paper: 30), seeded, so results are reproducible;
* ``grid`` / ``grid:K``: a deterministic K×K grid of crops spanning the image (K = 3).

The network's scores of the views are averaged. Tensors are float RGB in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from rankiqa.core.errors import UserError
from rankiqa.core.preprocess import (
    InputProtocol,
    image_views,
    parse_test_crops,
    prepare_image,
    to_float_tensor,
)

POOLING_HELP = (
    "crops:N (N random crops averaged; the paper uses 30), N, grid, grid:K, center or full"
)

__all__ = [
    "POOLING_HELP",
    "InputProtocol",
    "eval_views",
    "normalise_pooling",
    "prepare_uint8",
    "random_crop",
    "to_float",
]


def normalise_pooling(value: str | int) -> str:
    """``"30"`` → ``"crops:30"``; validates ``crops:N``, ``grid[:K]``, ``center``, ``full``."""
    text = str(value).strip().lower()
    if text.isdigit():
        text = f"crops:{text}"
    try:
        parse_test_crops(text)
    except UserError:
        raise UserError(f"--crops: expected {POOLING_HELP}, got {value!r}") from None
    return text


def prepare_uint8(image: np.ndarray, resize: int | None, crop_size: int) -> torch.Tensor:
    """Decoded H×W×3 uint8 image → resized 3×H×W uint8 tensor (compact for in-memory caches)."""
    protocol = InputProtocol(resize=resize, test_crops="center", crop_size=crop_size)
    prepared = prepare_image(to_float_tensor(image), protocol)
    return prepared.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 → float in [0, 1] (float input is returned unchanged)."""
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image


def random_crop(image: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One uniformly placed ``size``×``size`` crop of a 3×H×W image (H, W ≥ size)."""
    h, w = image.shape[-2:]
    top = int(torch.randint(0, h - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, w - size + 1, (1,), generator=generator))
    return image[..., top : top + size, left : left + size]


def eval_views(
    image: torch.Tensor, test_crops: str, crop_size: int, resize: int | None = None, seed: int = 0
) -> torch.Tensor:
    """Test-time views (V×3×h×w float) of one 3×H×W image (uint8 or float)."""
    protocol = InputProtocol(resize=resize, test_crops=test_crops, crop_size=crop_size)
    return image_views(to_float(image), protocol, seed=seed)
