"""Synthetic test images (a module of its own: Ray workers import it by a unique name)."""

from __future__ import annotations

import numpy as np


def natural_image(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A deterministic, textured, smooth-ish RGB image (edges, gradients, fine detail)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 0.5 + 0.25 * np.sin(xx / 9.0 + seed) * np.cos(yy / 13.0)
    edges = ((xx // 16 + yy // 16) % 2) * 0.2
    noise = rng.normal(0, 1, (height // 4 + 1, width // 4 + 1))
    detail = np.kron(noise, np.ones((4, 4)))[:height, :width] * 0.05
    channels = [base + edges + detail, base * 0.8 + 0.1 + detail, 1.0 - base * 0.7 + edges * 0.5]
    img = np.stack(channels, axis=2)
    return np.clip(img * 255.0, 0, 255).astype(np.uint8)


def drawn_scene(height: int = 420, width: int = 600, seed: int = 0) -> np.ndarray:
    """A deterministic drawn scene (gradient sky, filled shapes with crisp edges, lines) that
    the packaged model scores as a photo: blurring it lowers its score (burst picks)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    yy = np.mgrid[0:height, 0:width][0][..., None] / height
    top, bottom = rng.integers(40, 220, 3), rng.integers(40, 220, 3)
    image = Image.fromarray((top * (1 - yy) + bottom * yy).astype(np.uint8))
    draw = ImageDraw.Draw(image)

    def colour() -> tuple[int, int, int]:
        return tuple(int(v) for v in rng.integers(0, 256, 3))

    for _ in range(40):
        x, y, r = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(8, 70))
        box = [x - r, y - r * float(rng.uniform(0.3, 1)), x + r, y + r]
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape(box, fill=colour(), outline=(0, 0, 0) if rng.random() < 0.5 else None, width=2)
    for _ in range(30):
        ends = [tuple(int(v) for v in rng.integers(0, (width, height))) for _ in range(2)]
        draw.line(ends, fill=colour(), width=int(rng.integers(1, 4)))
    return np.asarray(image)
