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


def region_side(region: float | None, height: int, width: int) -> float:
    """The region side in pixels of a prepared H×W image: ``region`` (default
    :func:`default_region`), at least 8, at most the shorter side."""
    from rankiqa.core.errors import UserError

    side = float(default_region(height, width) if region is None else region)
    if side < 8:
        raise UserError(f"region must be at least 8 pixels, got {region}")
    return min(side, height, width)


def check_overlap(overlap: int) -> None:
    from rankiqa.core.errors import UserError

    if overlap < 1:
        raise UserError(f"overlap must be >= 1, got {overlap}")


def assemble_map(
    values: np.ndarray,
    score: float,
    region: float,
    prepared_size: tuple[int, int],
    image_size: tuple[int, int],
    model: Any,
    clip: bool = True,
) -> QualityMap:
    """The :class:`QualityMap` of region ``values`` (rows × cols, on the score scale) computed
    on a prepared image of ``prepared_size``: values clipped to the model's score range
    (``clip``), region and stride in pixels of the original ``image_size``. Both runtimes end
    their maps here, so their sizes agree."""
    values = np.asarray(values, dtype=np.float32)
    bounds = score_range(model) if clip else None
    if bounds is not None:
        np.clip(values, *bounds, out=values)
    height, width = prepared_size
    scale = image_size[0] / height
    cols = values.shape[1]
    stride = (width - region) / (cols - 1) if cols > 1 else region
    return QualityMap(
        values=values,
        score=float(score),
        region=region * scale,
        stride=stride * scale,
        image_size=(int(image_size[0]), int(image_size[1])),
    )


def expected_grid(height: int, width: int, region: float, overlap: int = DEFAULT_OVERLAP):
    """(rows, cols) of the map of an H×W prepared image for ``stats``/``compact`` heads."""
    rows, cols = cells(height, width, min(region, height, width), overlap)
    return rows - overlap + 1, cols - overlap + 1
