"""A photo's look in a 32×32 thumbnail, to find bursts and near-duplicates.

The fingerprint is the photo shrunk to 32×32 pixels (area averaging, aspect ratio ignored)
and softened (Gaussian, radius 1 px). Shrinking that far averages away what differs between
frames of a burst (sensor noise, mild motion blur or defocus); :func:`similarities` compares
two fingerprints at every shift of up to 2 pixels (6 % of the frame) and keeps the best
match, so the few pixels a hand-shake moves or crops do not count. Two frames of one scene
then compare near 1, two different scenes rarely above 0.85 (measured:
``benchmarks/cull.py``, docs/cull.md).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

#: side of the shrunk image (pixels)
SIDE = 32
#: Gaussian softening of the thumbnail (pixels)
SOFTEN = 1.0
#: largest shift tried by :func:`similarities` (pixels of the thumbnail)
MAX_SHIFT = 2


def fingerprint(image: np.ndarray, side: int = SIDE) -> np.ndarray:
    """The fingerprint (float32 ``side``×``side``×3) of a uint8 H×W×3 image.

    >>> import numpy as np
    >>> photo = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    >>> fingerprint(photo).shape
    (32, 32, 3)
    """
    small = Image.fromarray(np.ascontiguousarray(image)).resize((side, side), Image.Resampling.BOX)
    small = small.filter(ImageFilter.GaussianBlur(SOFTEN))
    return np.asarray(small, dtype=np.float32)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-6)


def similarities(fingerprints: np.ndarray, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """N×N similarities of N fingerprints (N×S×S×3): the best correlation over shifts of up
    to ``max_shift`` pixels (1 for the same picture; a flat picture matches nothing).

    >>> import numpy as np
    >>> a = fingerprint(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    >>> moved = np.roll(a, 1, axis=1)
    >>> bool(similarities(np.stack([a, moved]))[0, 1] > 0.95)
    True
    """
    x = np.asarray(fingerprints, dtype=np.float32)
    count, side = len(x), x.shape[1] if x.ndim == 4 else 0
    best = np.full((count, count), -1.0, dtype=np.float32)
    if count == 0 or side == 0:
        return best
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            a = x[:, max(0, dy) : side + min(0, dy), max(0, dx) : side + min(0, dx)]
            b = x[:, max(0, -dy) : side + min(0, -dy), max(0, -dx) : side + min(0, -dx)]
            np.maximum(best, _unit_rows(a) @ _unit_rows(b).T, out=best)
    flat = np.linalg.norm(_unit_rows(x), axis=1) < 0.5
    best[flat, :] = best[:, flat] = 0.0
    return best
