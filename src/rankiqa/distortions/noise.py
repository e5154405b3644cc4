"""Additive, impulse and multiplicative noise, and noise followed by a denoiser.

Noise variances are on images scaled to [0, 1], as in MATLAB's ``imnoise``.
"""

from __future__ import annotations

import cv2
import numpy as np

from rankiqa.distortions.registry import register, to_uint8


def _gauss(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)


@register("white_noise")
def white_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """Independent Gaussian noise per pixel and channel (``imnoise(I, 'gaussian', 0, var)``).

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = white_noise(image, 0.02, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    noise = _gauss(rng, image.shape, 255.0 * np.sqrt(variance))
    return to_uint8(image.astype(np.float32) + noise)


@register("color_noise")
def color_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise in YCbCr: variance ``var`` on Cb and Cr, ``var / 4`` on Y (TID2013 #2).

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = color_noise(image, 0.0343, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    ycrcb = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb)
    std = np.sqrt(variance)
    stds = np.array([std / 2.0, std, std], dtype=np.float32)  # Y, Cr, Cb
    ycrcb = ycrcb + rng.standard_normal(image.shape, dtype=np.float32) * stds
    rgb = cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)
    return to_uint8(rgb * 255.0)


@register("high_frequency_noise")
def high_frequency_noise(
    image: np.ndarray, variance: float, rng: np.random.Generator
) -> np.ndarray:
    """White noise high-pass filtered (noise minus its Gaussian σ=1 blur), rescaled to ``var``.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = high_frequency_noise(image, 0.01, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    high = noise - cv2.GaussianBlur(noise, (7, 7), 1.0, borderType=cv2.BORDER_REFLECT)
    high *= np.float32(255.0 * np.sqrt(variance) / max(float(high.std()), 1e-6))
    return to_uint8(image.astype(np.float32) + high)


@register("impulse_noise")
def impulse_noise(image: np.ndarray, density: float, rng: np.random.Generator) -> np.ndarray:
    """Salt-and-pepper noise on a fraction ``density`` of the samples (``imnoise`` 'salt & pepper').

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = impulse_noise(image, 0.05, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    u = rng.random(image.shape, dtype=np.float32)
    out = image.copy()
    out[u < density / 2] = 0
    out[(u >= density / 2) & (u < density)] = 255
    return out


@register("multiplicative_noise")
def multiplicative_noise(
    image: np.ndarray, variance: float, rng: np.random.Generator
) -> np.ndarray:
    """Speckle: ``I + n·I`` with Gaussian ``n`` of variance ``var`` (TID2013 #19).

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = multiplicative_noise(image, 0.13, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    x = image.astype(np.float32)
    return to_uint8(x + x * _gauss(rng, image.shape, np.sqrt(variance)))


@register("denoised_noise")
def denoised_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of std ``sigma`` (0..255 scale), then OpenCV's colour non-local means.

    Stands in for CBM3D (TID2013 #9): the residual smoothing/blotch artefacts of a real denoiser.
    The filter strength is matched to the noise (``h = hColor = 0.8 σ``); 5×5 template,
    11×11 search window (≈ 3× faster than OpenCV's default 21×21 at similar quality).

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = denoised_noise(image, 30, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    noisy = to_uint8(image.astype(np.float32) + _gauss(rng, image.shape, sigma))
    h = 0.8 * float(sigma)
    return cv2.fastNlMeansDenoisingColored(noisy, None, h, h, 5, 11)
