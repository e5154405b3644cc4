"""Blur and smoothing distortions."""

from __future__ import annotations

import math

import cv2
import numpy as np

from rankiqa.distortions.registry import register


def _symmetric_pad(image: np.ndarray, pad: int) -> np.ndarray:
    # np.pad handles pads wider than the image (repeated mirroring), unlike cv2.copyMakeBorder.
    return np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")


def gaussian_kernel_size(sigma: float) -> int:
    """Odd kernel size covering ±3σ (≈ 6σ), at least 3."""
    return 2 * max(1, math.ceil(3.0 * sigma)) + 1


@register("gaussian_blur")
def gaussian_blur(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian low-pass filter, kernel ≈ 6σ, symmetric (mirror) border like MATLAB's.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = gaussian_blur(image, 6.5, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    ksize = gaussian_kernel_size(sigma)
    pad = ksize // 2
    padded = _symmetric_pad(image, pad)
    blurred = cv2.GaussianBlur(padded, (ksize, ksize), sigmaX=sigma, sigmaY=sigma)
    return np.ascontiguousarray(blurred[pad:-pad, pad:-pad])
