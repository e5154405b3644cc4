"""Any image kind a model scores (path, PIL image, array, tensor) as a float 3×H×W tensor."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from rankiqa.core.errors import UserError
from rankiqa.core.imageio import DEFAULT_MAX_PIXELS, read_image, to_rgb8
from rankiqa.core.preprocess import to_float_tensor

ImageLike = Any  # str | PathLike | PIL.Image.Image | np.ndarray | torch.Tensor


def device_of(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def as_chw(
    image: ImageLike, max_pixels: int | None = None, draft_size: int | None = None
) -> torch.Tensor:
    """Any supported image kind -> float 3×H×W tensor in [0, 1] on the CPU (``draft_size``:
    see :func:`rankiqa.core.imageio.read_image`)."""
    if isinstance(image, (str, os.PathLike)):
        pixels = max_pixels or DEFAULT_MAX_PIXELS
        return to_float_tensor(read_image(image, max_pixels=pixels, draft_size=draft_size))
    if isinstance(image, Image.Image):
        return to_float_tensor(to_rgb8(image))
    if isinstance(image, np.ndarray):
        if image.dtype == np.uint8 and image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        return to_float_tensor(image)
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] != 3 or not image.is_floating_point():
            raise UserError(
                "expected a float 3×H×W (or B×3×H×W) tensor in [0, 1], "
                f"got {image.dtype} of shape {tuple(image.shape)}"
            )
        return image.detach().float().cpu()
    raise UserError(f"cannot score an object of type {type(image).__name__}")
