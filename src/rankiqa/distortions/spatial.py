"""Local spatial distortions: patch displacement and solid blocks."""

from __future__ import annotations

import math

import numpy as np

from rankiqa.distortions.registry import register

#: Side of the patches moved by :func:`pattern_noise` (TID2013: 15×15).
PATCH_SIZE = 15
#: Largest displacement of a patch in each direction, in pixels.
PATCH_MAX_OFFSET = 15
#: Nominal block side of :func:`block_distortion` (TID2013: 32×32).
BLOCK_SIZE = 32


@register("pattern_noise")
def pattern_noise(image: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Non-eccentricity pattern noise: ``count`` swaps of a 15×15 patch with a nearby one.

    Each patch is exchanged with the patch displaced by up to ±15 px in each direction.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = pattern_noise(image, 150, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    out = image.copy()
    h, w = image.shape[:2]
    p = min(PATCH_SIZE, h, w)
    for _ in range(int(count)):
        y, x = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
        dy, dx = rng.integers(-PATCH_MAX_OFFSET, PATCH_MAX_OFFSET + 1, size=2)
        y2 = int(np.clip(y + dy, 0, h - p))
        x2 = int(np.clip(x + dx, 0, w - p))
        a = out[y : y + p, x : x + p].copy()
        out[y : y + p, x : x + p] = out[y2 : y2 + p, x2 : x2 + p]
        out[y2 : y2 + p, x2 : x2 + p] = a
    return out


def block_side(height: int, width: int, max_blocks: int = 16) -> int:
    """32 px, or less on small images so ``max_blocks`` blocks cover at most half the image."""
    return max(1, min(BLOCK_SIZE, int(math.sqrt(height * width / (2 * max_blocks)))))


@register("block_distortion")
def block_distortion(image: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` non-overlapping blocks (32×32 on images ≥ 181×181) set to random solid colours.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = block_distortion(image, 8, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    h, w = image.shape[:2]
    s = block_side(h, w)
    rows, cols = h // s, w // s
    n = min(int(count), rows * cols)
    cells = rng.choice(rows * cols, size=n, replace=False)
    oy, ox = int(rng.integers(0, h - rows * s + 1)), int(rng.integers(0, w - cols * s + 1))
    colors = rng.integers(0, 256, size=(n, 3), dtype=np.uint8)
    out = image.copy()
    for cell, color in zip(cells, colors, strict=True):
        r, c = divmod(int(cell), cols)
        out[oy + r * s : oy + (r + 1) * s, ox + c * s : ox + (c + 1) * s] = color
    return out
