"""Lossy compression (JPEG, JPEG 2000), decoded back so the artefacts are kept exactly."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from rankiqa.distortions.registry import register

#: Lowest quality Pillow passes to libjpeg (libjpeg clamps 0 to 1); MATLAB's quality 0 maps here.
JPEG_MIN_QUALITY = 0


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


@register("jpeg")
def jpeg(image: np.ndarray, quality: int, rng: np.random.Generator) -> np.ndarray:
    """Baseline JPEG (libjpeg via Pillow, 4:2:0 chroma subsampling, standard tables).

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = jpeg(image, 7, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=max(int(quality), JPEG_MIN_QUALITY))
    return _decode(buf.getvalue())


@register("jpeg2000")
def jpeg2000(image: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """JPEG 2000 (OpenJPEG via Pillow): irreversible 9/7 wavelet, one layer at ``ratio``:1.

    The ratio is relative to the 24-bit raw size and includes the codestream header (≈ 180
    bytes), so on images under ≈ 300×300 px the highest ratios cannot be reached and saturate.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> out = jpeg2000(image, 343, np.random.default_rng(0))
    >>> out.shape == image.shape and out.dtype == np.uint8 and bool((out != image).any())
    True
    """
    h, w = image.shape[:2]
    resolutions = max(1, min(6, int(math.log2(min(h, w))) - 2))
    buf = io.BytesIO()
    Image.fromarray(image).save(
        buf,
        format="JPEG2000",
        quality_mode="rates",
        quality_layers=[float(ratio)],
        irreversible=True,
        num_resolutions=resolutions,
        no_jp2=True,
    )
    return _decode(buf.getvalue())
