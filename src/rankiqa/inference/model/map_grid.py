"""Quality maps without torch: the result type and the region grid's arithmetic.

:mod:`rankiqa.inference.model.regions` computes maps with PyTorch, and
:mod:`rankiqa.inference.scoring.onnx_model` from an ONNX graph's feature maps; both use the
sizes defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: default overlap: regions move by a quarter of their size
DEFAULT_OVERLAP = 4
#: default region side as a fraction of the shorter side of the prepared image
DEFAULT_REGION_FRACTION = 1 / 3


@dataclass(frozen=True)
class QualityMap:
    """A quality map and how it was made.

    Attributes
    ----------
    values
        float32 rows × cols array, one quality value per region (the model's score scale).
    score
        the head applied to the whole prepared image in the same forward pass (equal to
        ``model.score`` for models whose input protocol is ``full``).
    region
        side of a region in pixels of the original image.
    stride
        distance between neighbouring region centres in pixels of the original image.
    image_size
        (height, width) of the original image.
    """

    values: np.ndarray
    score: float
    region: float
    stride: float
    image_size: tuple[int, int]

    @property
    def pooled(self) -> float:
        """The mean of the map (compare with :attr:`score`)."""
        return float(np.mean(self.values))


def default_region(height: int, width: int) -> int:
    """Default region side for a prepared H×W image: a third of its shorter side (>= 32 px)."""
    return max(32, int(round(min(height, width) * DEFAULT_REGION_FRACTION)))


def cells(height: int, width: int, region: float, overlap: int) -> tuple[int, int]:
    """Number of sub-cells per axis so that ``overlap`` of them span about ``region`` pixels."""
    cell = region / overlap
    rows = max(overlap, int(round(height / cell)))
    cols = max(overlap, int(round(width / cell)))
    return rows, cols


def score_range(model: Any) -> tuple[float, float] | None:
    """The model's documented score range (default 0-100); ``None`` for an arbitrary scale
    (ranking-only models)."""
    meta = model.metadata.get("score") or {}
    bounds = meta.get("range", (0.0, 100.0))
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        return None
    return (low, high) if low < high else None


def expected_grid(height: int, width: int, region: float, overlap: int = DEFAULT_OVERLAP):
    """(rows, cols) of the map of an H×W prepared image for ``stats``/``compact`` heads."""
    rows, cols = cells(height, width, min(region, height, width), overlap)
    return rows - overlap + 1, cols - overlap + 1
