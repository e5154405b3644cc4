"""Intensity, contrast, colour and quantisation distortions."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from rankiqa.distortions.registry import register, to_uint8


@register("mean_shift")
def mean_shift(image: np.ndarray, shift: float, rng: np.random.Generator) -> np.ndarray:
    """Add ``shift`` grey levels (0..255 scale) to every sample, clipped."""
    return to_uint8(image.astype(np.float32) + np.float32(shift))


@register("contrast")
def contrast(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Scale deviations from the image's global mean by ``factor``, clipped."""
    x = image.astype(np.float32)
    mean = np.float32(x.mean())
    return to_uint8((x - mean) * np.float32(factor) + mean)


@register("saturation")
def saturation(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Scale chroma (Cb, Cr about neutral 0.5 in full-range YCbCr) by ``factor``; Y is kept."""
    ycrcb = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb)
    ycrcb[:, :, 1:] = (ycrcb[:, :, 1:] - 0.5) * np.float32(factor) + 0.5
    return to_uint8(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB) * 255.0)


@register("quantization")
def quantization(image: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform quantisation of each channel to ``levels`` grey levels spanning 0..255."""
    step = 255.0 / (int(levels) - 1)
    return to_uint8(np.rint(image.astype(np.float32) / step) * step)


@register("color_quantization_dither")
def color_quantization_dither(
    image: np.ndarray, colors: int, rng: np.random.Generator
) -> np.ndarray:
    """Median-cut palette of ``colors`` colours, applied with Floyd–Steinberg dithering."""
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
    """Red shifted right by ``k − 1`` px, blue left by ``k/2 − 1`` px, then 3×3 Gaussian σ 0.5."""
    out = image.copy()
    out[:, :, 0] = _shift_columns(image[:, :, 0], int(k) - 1)
    out[:, :, 2] = _shift_columns(image[:, :, 2], -(int(k) // 2 - 1))
    return cv2.GaussianBlur(out, (3, 3), 0.5, borderType=cv2.BORDER_REFLECT)
