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
