"""Intensity, contrast, colour and quantisation distortions."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from rankiqa.distortions.registry import register, to_uint8


@register("mean_shift")
def mean_shift(image: np.ndarray, shift: float, rng: np.random.Generator) -> np.ndarray:
    """Add ``shift`` grey levels (0..255 scale) to every sample, clipped.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = mean_shift(image, 45, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    return to_uint8(image.astype(np.float32) + np.float32(shift))


@register("contrast")
def contrast(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Scale deviations from the image's global mean by ``factor``, clipped.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = contrast(image, 0.55, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    x = image.astype(np.float32)
    mean = np.float32(x.mean())
    return to_uint8((x - mean) * np.float32(factor) + mean)


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)


@register("exposure")
def exposure(image: np.ndarray, stops: float, rng: np.random.Generator) -> np.ndarray:
    """Change the exposure by ``stops`` (EV): linear light ×2^stops, clipped, back to sRGB.

    Positive stops over-expose (highlights clip to white), negative stops under-expose.

    Examples
    --------
    >>> image = np.full((8, 8, 3), 118, dtype=np.uint8)   # mid grey (18 % linear)
    >>> [int(exposure(image, s, np.random.default_rng(0))[0, 0, 0]) for s in (-2, -1, 1, 2)]
    [60, 85, 162, 221]
    >>> int(exposure(image, 3, np.random.default_rng(0))[0, 0, 0])
    255
    """
    linear = _srgb_to_linear(image.astype(np.float32) / np.float32(255.0))
    scaled = np.clip(linear * np.float32(2.0 ** float(stops)), 0.0, 1.0)
    return to_uint8(_linear_to_srgb(scaled) * 255.0)


@register("saturation")
def saturation(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Scale chroma (Cb, Cr about neutral 0.5 in full-range YCbCr) by ``factor``; Y is kept.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = saturation(image, -0.4, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    ycrcb = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb)
    ycrcb[:, :, 1:] = (ycrcb[:, :, 1:] - 0.5) * np.float32(factor) + 0.5
    return to_uint8(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB) * 255.0)


@register("quantization")
def quantization(image: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform quantisation of each channel to ``levels`` grey levels spanning 0..255.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = quantization(image, 5, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    step = 255.0 / (int(levels) - 1)
    return to_uint8(np.rint(image.astype(np.float32) / step) * step)


@register("color_quantization_dither")
def color_quantization_dither(
    image: np.ndarray, colors: int, rng: np.random.Generator
) -> np.ndarray:
    """Median-cut palette of ``colors`` colours, applied with Floyd–Steinberg dithering.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = color_quantization_dither(image, 16, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    pil = Image.fromarray(image)
    palette = pil.quantize(colors=int(colors), method=Image.Quantize.MEDIANCUT)
    dithered = pil.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    return np.asarray(dithered.convert("RGB"), dtype=np.uint8).copy()


def _shift_columns(channel: np.ndarray, shift: int) -> np.ndarray:
    """Shift a 2-D channel right (``shift`` > 0) or left, replicating the edge column."""
    if shift == 0:
        return channel
    w = channel.shape[1]
    idx = np.clip(np.arange(w) - shift, 0, w - 1)
    return channel[:, idx]


@register("chromatic_aberration")
def chromatic_aberration(image: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Red shifted right by ``k − 1`` px, blue left by ``k/2 − 1`` px, then 3×3 Gaussian σ 0.5.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = chromatic_aberration(image, 10, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    out = image.copy()
    out[:, :, 0] = _shift_columns(image[:, :, 0], int(k) - 1)
    out[:, :, 2] = _shift_columns(image[:, :, 2], -(int(k) // 2 - 1))
    return cv2.GaussianBlur(out, (3, 3), 0.5, borderType=cv2.BORDER_REFLECT)
