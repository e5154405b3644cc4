"""Per-region quality maps: the model's head applied to local windows of one forward pass.

The image is prepared as for scoring (the model's ``resize`` and small-image upscaling, but the
whole image, no crop) and run through the backbone once. The head's pooling is then done over
square *regions* of the image instead of the whole of it:

* ``stats`` head: per-channel mean and standard deviation of every tapped stage, per region;
* ``compact`` head: per-channel mean and maximum of the last feature map, per region;
* ``paper`` head: the fixed ``grid``×``grid`` pooling of a region (its fc layers see a region as
  they saw a training crop).

Regions are ``region`` pixels square at the model's input resolution and overlap: they move by
``region / overlap`` pixels. Their moments are computed exactly from ``overlap``×``overlap``
sub-cells of adaptive average (or max) pooling, so all tapped stages pool the same part of the
image whatever their stride. Each region then gets the head's fully connected part: the map
costs one forward pass plus a few hundred tiny MLP evaluations.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from rankiqa.core.errors import UserError
from rankiqa.core.model_file import scale_scores
from rankiqa.core.preprocess import prepare_image
from rankiqa.inference.model.images import as_chw, device_of
from rankiqa.inference.model.map_grid import (
    DEFAULT_OVERLAP,
    QualityMap,
    assemble_map,
    cells,
    check_overlap,
    region_side,
)
from rankiqa.models.backbones import BACKBONES
from rankiqa.models.heads import CompactHead, PaperHead, StatsHead
from rankiqa.models.networks import feature_taps


def _window_mean(x: torch.Tensor, cells: tuple[int, int], overlap: int) -> torch.Tensor:
    """Mean of ``x`` (N×C×h×w) over windows of ``overlap``² sub-cells, stride one sub-cell."""
    sub = F.adaptive_avg_pool2d(x, cells)
    return F.avg_pool2d(sub, overlap, stride=1)


def _window_max(x: torch.Tensor, cells: tuple[int, int], overlap: int) -> torch.Tensor:
    sub = F.adaptive_max_pool2d(x, cells)
    return F.max_pool2d(sub, overlap, stride=1)


def _per_region(head_fc: torch.nn.Module, pooled: torch.Tensor) -> torch.Tensor:
    """Apply a head's MLP to N×F×r×c region features: N×r×c outputs."""
    n, width, rows, cols = pooled.shape
    flat = pooled.permute(0, 2, 3, 1).reshape(-1, width)
    return head_fc(flat).reshape(n, rows, cols)


def _stats_map(
    head: StatsHead | torch.nn.Module, taps: list[torch.Tensor], cells: tuple[int, int], overlap: int
) -> torch.Tensor:
    pooled = []
    for f in taps:
        # sample std over the region as torch.std (Bessel), from the exact first two moments
        count = (f.shape[2] * f.shape[3]) * (overlap * overlap) / (cells[0] * cells[1])
        mean = _window_mean(f, cells, overlap)
        square = _window_mean(f * f, cells, overlap)
        var = (square - mean * mean).clamp_(min=0.0)
        if count > 1:
            var = var * (count / (count - 1))
        pooled += [mean, var.sqrt()]
    features = torch.cat(pooled, dim=1)
    return _per_region(torch.nn.Sequential(head.norm, head.fc), features)


def _compact_map(
    head: CompactHead, features: torch.Tensor, cells: tuple[int, int], overlap: int
) -> torch.Tensor:
    pooled = torch.cat(
        [_window_mean(features, cells, overlap), _window_max(features, cells, overlap)], dim=1
    )
    return _per_region(head.fc, pooled)


def _paper_map(
    head: PaperHead, features: torch.Tensor, height: int, width: int, region: float
) -> torch.Tensor:
    grid = int(head.pool.output_size if isinstance(head.pool.output_size, int) else 1)
    cell = region / grid
    cells = (max(grid, int(round(height / cell))), max(grid, int(round(width / cell))))
    sub = F.adaptive_avg_pool2d(features, cells)  # N×C×R×S
    n, channels = sub.shape[:2]
    windows = F.unfold(sub, grid)  # N×(C·g·g)×L, channel-major like flatten(pool(f))
    rows, cols = cells[0] - grid + 1, cells[1] - grid + 1
    flat = windows.transpose(1, 2).reshape(-1, channels * grid * grid)
    return head.fc(flat).reshape(n, rows, cols)


def region_scores(
    net: torch.nn.Module, x: torch.Tensor, region: float, overlap: int = DEFAULT_OVERLAP
) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw head outputs per region and for the whole image, from one backbone pass.

    Parameters
    ----------
    net
        a :class:`rankiqa.models.QualityNet`.
    x
        N×3×H×W float images in [0, 1].
    region
        region side in pixels of ``x``.
    overlap
        regions move by ``region / overlap`` pixels.

    Returns
    -------
    (maps, scores)
        N×rows×cols region outputs and the N whole-image outputs (before the model's
        score scale and offset).
    """
    check_overlap(overlap)
    height, width = x.shape[-2:]
    region = float(min(region, height, width))
    head = net.head
    normed = (x - net.mean) / net.std
    if getattr(head, "multi_level", False):  # a StatsHead, or an ensemble's (models.ensemble)
        taps = feature_taps(net.backbone, normed, tuple(BACKBONES[net.config["backbone"]].taps))
        grid = cells(height, width, region, overlap)
        return _stats_map(head, taps, grid, overlap), head(taps)
    features = net.backbone(normed)
    if isinstance(head, CompactHead):
        grid = cells(height, width, region, overlap)
        return _compact_map(head, features, grid, overlap), head(features)
    if isinstance(head, PaperHead):
        return _paper_map(head, features, height, width, region), head(features)
    raise UserError(f"quality maps are not supported for the {type(head).__name__} head")


def quality_map(
    model: Any,
    image: Any,
    region: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    max_pixels: int | None = None,
    clip: bool = True,
) -> QualityMap:
    """Local quality of an image: one value per overlapping square region (higher = better).

    Parameters
    ----------
    model
        an :class:`rankiqa.inference.IQAModel`.
    image
        a path, PIL image, uint8 H×W×3 array or float 3×H×W tensor in [0, 1].
    region
        region side in pixels at the model's input resolution (the image after the model's
        resize); default :func:`default_region`: a third of the shorter side (112 px for the
        default model, which resizes the shorter side to 336).
    overlap
        regions move by ``region / overlap`` pixels (default 4: a quarter of a region).
    max_pixels
        decompression-bomb limit for paths.
    clip
        clip the values to the model's score range (default); ``False`` keeps the raw
        extrapolation of images far outside the training domain.

    Returns
    -------
    QualityMap
        ``values`` has about ``overlap * H / region - 1`` rows and the same for columns.

    Examples
    --------
    >>> from rankiqa.inference.model.loading import untrained_model
    >>> import numpy as np
    >>> model = untrained_model("shallow", head="stats")
    >>> qmap = quality_map(model, np.zeros((240, 320, 3), np.uint8), region=120, overlap=2)
    >>> qmap.values.shape
    (3, 4)
    """
    check_overlap(overlap)
    chw = as_chw(image, max_pixels)
    prepared = prepare_image(chw, model.protocol)
    height, width = int(prepared.shape[1]), int(prepared.shape[2])
    region_px = region_side(region, height, width)
    model.eval()
    with torch.inference_mode():
        batch = prepared.unsqueeze(0).to(device_of(model))
        batch = batch.contiguous(memory_format=torch.channels_last)
        maps, whole = region_scores(model.net, batch, region_px, overlap)
    values = scale_scores(maps[0].float().cpu(), model.score_meta).numpy()
    score = float(scale_scores(whole[:1].float().cpu(), model.score_meta)[0])
    full_size = (int(chw.shape[1]), int(chw.shape[2]))
    return assemble_map(values, score, region_px, (height, width), full_size, model, clip)


__all__ = ["quality_map", "region_scores"]
