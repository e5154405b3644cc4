"""The input protocol on NumPy arrays: the scoring path without torch.

The twin of :func:`rankiqa.core.preprocess.image_views`: the same size checks, the same
resize (shorter side, bilinear with antialias, as ``torch.nn.functional.interpolate(...,
antialias=True)`` computes it: a triangle filter widened by the scale factor, weights
normalised per output pixel), the same clamp to [0, 1] and the same ``full`` / ``center`` /
``grid:K`` views; values agree with torch to ~1e-6. ``crops:N`` (random crops drawn by
torch's generator) needs torch.

Examples
--------
>>> import numpy as np
>>> from rankiqa.core.protocol import InputProtocol
>>> image = np.zeros((300, 400, 3), np.uint8)
>>> image_views(image, InputProtocol(resize=256, test_crops="full")).shape
(1, 3, 256, 341)
>>> image_views(image, InputProtocol(test_crops="grid", crop_size=100)).shape
(9, 3, 100, 100)
"""

from __future__ import annotations

import functools

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.core.protocol import (
    InputProtocol,
    check_size,
    crop_offsets,
    parse_test_crops,
    resized_size,
)

__all__ = ["image_views", "prepare_image", "resize_shorter", "to_float_chw"]


@functools.lru_cache(maxsize=64)
def _weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, weights), both out×K: output pixel i is ``sum_k w[i,k] * x[idx[i,k]]``.

    Computed with PyTorch's float32 roundings (the scale, the centre and each filter
    argument), so the weights match ``interpolate(..., antialias=True)`` bit for bit.
    """
    f32 = np.float32
    scale = f32(in_size) / f32(out_size)
    support = scale if scale >= 1.0 else f32(1.0)
    invscale = f32(1.0 / float(scale)) if scale >= 1.0 else f32(1.0)
    centers = (float(scale) * (np.arange(out_size) + 0.5)).astype(f32)
    xmin = np.maximum((centers.astype(np.float64) - float(support) + 0.5).astype(np.int64), 0)
    xmax = np.minimum((centers.astype(np.float64) + float(support) + 0.5).astype(np.int64), in_size)
    width = int((xmax - xmin).max())
    index = xmin[:, None] + np.arange(width)[None, :]
    shifted = (index.astype(f32) - centers[:, None]).astype(np.float64) + 0.5
    argument = (shifted * float(invscale)).astype(f32)
    weights = np.maximum(f32(1.0) - np.abs(argument), f32(0.0)).astype(f32)
    weights[index >= xmax[:, None]] = 0.0
    total = np.zeros(out_size, f32)
    for k in range(width):  # summed in order, in float32, as torch does
        total += weights[:, k]
    weights = (weights / total[:, None]).astype(f32)
    return np.minimum(index, in_size - 1), weights


def _resize_axis(x: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    index, weights = _weights(x.shape[axis], out_size)
    moved = np.moveaxis(x, axis, 0)
    out = np.zeros((out_size, *moved.shape[1:]), np.float32)
    shape = (out_size,) + (1,) * (moved.ndim - 1)
    for k in range(index.shape[1]):
        out += weights[:, k].reshape(shape) * moved[index[:, k]]
    return np.moveaxis(out, 0, axis)


def resize_shorter(image: np.ndarray, shorter: int) -> np.ndarray:
    """Resize a float 3×H×W array so its shorter side is ``shorter`` (bilinear, antialias)."""
    height, width = image.shape[-2:]
    size = resized_size(height, width, shorter)
    if size == (height, width):
        return image
    out = _resize_axis(image, 2, size[1]) if size[1] != width else image
    out = _resize_axis(out, 1, size[0]) if size[0] != height else out
    return np.clip(out, 0.0, 1.0, out=out)


def to_float_chw(image: np.ndarray) -> np.ndarray:
    """uint8 H×W×3 RGB (or H×W grey) array -> float32 3×H×W in [0, 1]."""
    if image.dtype == np.uint8 and image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise UserError(f"expected a uint8 H×W×3 RGB array, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0)


def prepare_image(image: np.ndarray, protocol: InputProtocol) -> np.ndarray:
    """The resize step of ``protocol`` on a float 3×H×W array (see
    :func:`rankiqa.core.preprocess.prepare_image`)."""
    check_size(*image.shape[-2:])
    if protocol.resize is not None:
        image = resize_shorter(image, int(protocol.resize))
    if min(image.shape[-2:]) < int(protocol.crop_size):
        image = resize_shorter(image, int(protocol.crop_size))
    return image


def image_views(image: np.ndarray, protocol: InputProtocol) -> np.ndarray:
    """All views (V×3×h×w float32) of a uint8 H×W×3 image (or float 3×H×W array)."""
    chw = to_float_chw(image) if image.dtype == np.uint8 else np.asarray(image, np.float32)
    kind, count = parse_test_crops(protocol.test_crops)
    if kind == "crops":
        raise UserError(
            f"test crops {protocol.test_crops!r} (random crops) need the PyTorch runtime: "
            "pip install 'rankiqa[torch]'"
        )
    chw = prepare_image(chw, protocol)
    size = int(protocol.crop_size)
    if kind == "full":
        return chw[None]
    height, width = chw.shape[-2:]
    if kind == "center":
        count = 1
    views = [
        chw[:, top : top + size, left : left + size]
        for top in crop_offsets(height, size, count)
        for left in crop_offsets(width, size, count)
    ]
    return np.ascontiguousarray(np.stack(views))
