"""A tiny ranked set on disk in the layout of ``rankiqa distort`` (docs/contracts.md contract 1), built directly
so that the tests do not depend on the distortion module."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from conftest import natural_image


def _distort(image: np.ndarray, group: str, level: int, rng: np.random.Generator) -> np.ndarray:
    img = image.astype(np.float32)
    if group == "blur":
        img = cv2.GaussianBlur(img, (0, 0), 0.8 * level)
    elif group == "noise":
        img = img + rng.normal(0, 10.0 * level, img.shape)
    elif group == "dark":
        img = img * (1 - 0.15 * level)
    elif group == "quant":
        step = 2 ** (level + 2)
        img = np.floor(img / step) * step
    else:
        img = img + rng.normal(0, 6.0 * level, img.shape)
        img = cv2.GaussianBlur(img, (0, 0), 0.5 * level)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_ranked_set(
    root: Path,
    references: int = 4,
    groups: tuple[str, ...] = ("blur", "noise", "dark", "quant"),
    levels: int = 5,
    size: tuple[int, int] = (40, 48),
) -> Path:
    """Write ``root/manifest.csv``, ``root/preset.json`` and the PNGs; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for r in range(references):
        ref = f"set/img{r:02d}"
        folder = root / ref
        folder.mkdir(parents=True, exist_ok=True)
        pristine = natural_image(size[0], size[1], seed=r)
        Image.fromarray(pristine).save(folder / "pristine.png")
        rows.append((f"{ref}/pristine.png", ref, "pristine", 0))
        for group in groups:
            for level in range(1, levels + 1):
                name = f"{group}_{level}.png"
                Image.fromarray(_distort(pristine, group, level, rng)).save(folder / name)
                rows.append((f"{ref}/{name}", ref, group, level))
    rows.sort(key=lambda t: (t[1], t[2], t[3]))
    with open(root / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "reference", "distortion", "level"])
        writer.writerows(rows)
    preset = {"preset": "test", "groups": {g: {"levels": levels} for g in groups}, "seed": 0}
    (root / "preset.json").write_text(json.dumps(preset))
    return root
