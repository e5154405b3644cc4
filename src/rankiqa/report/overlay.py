"""Quality maps as pictures: resampling to the image, a perceptual colour map, overlays, PNGs."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_bytes_atomic
from rankiqa.inference.model.map_grid import QualityMap

#: perceptually uniform colour map (dark = poor, bright = good), readable in grey and by most
#: colour-blind viewers
CMAP = "inferno"
#: overlay opacity of the colour map over the photo
ALPHA = 0.6
MAP_SUFFIXES = (".png", ".npy")


def resample_map(qmap: QualityMap, height: int, width: int) -> np.ndarray:
    """Bilinear resampling of the map to an H×W image, each value placed at its region's centre.

    Region centres run from ``region / 2`` to ``size - region / 2`` (of the original image);
    outside them the nearest centre's value is kept.

    Examples
    --------
    >>> q = QualityMap(np.array([[0.0, 100.0]], np.float32), 50.0, 100.0, 100.0, (100, 200))
    >>> resample_map(q, 1, 5).round(1).tolist()
    [[0.0, 10.0, 50.0, 90.0, 100.0]]
    """
    values = np.asarray(qmap.values, dtype=np.float32)
    rows, cols = values.shape
    full_h, full_w = qmap.image_size
    half = qmap.region / 2

    def positions(n_out: int, n_cells: int, full: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        centers = np.linspace(half, max(half, full - half), n_cells) * (n_out / full)
        coords = np.arange(n_out, dtype=np.float64) + 0.5
        index = np.interp(coords, centers, np.arange(n_cells)) if n_cells > 1 else coords * 0
        low = np.floor(index).astype(np.int64)
        high = np.minimum(low + 1, n_cells - 1)
        return low, high, (index - low).astype(np.float32)

    y0, y1, fy = positions(height, rows, full_h)
    x0, x1, fx = positions(width, cols, full_w)
    top = values[y0][:, x0] * (1 - fx) + values[y0][:, x1] * fx
    bottom = values[y1][:, x0] * (1 - fx) + values[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


def colorize(
    values: np.ndarray, vmin: float = 0.0, vmax: float = 100.0, cmap: str = CMAP
) -> np.ndarray:
    """Map values to uint8 RGB colours of a matplotlib colour map (clipped to [vmin, vmax])."""
    from matplotlib import colormaps

    scaled = (np.asarray(values, dtype=np.float32) - vmin) / max(1e-6, vmax - vmin)
    rgba = colormaps[cmap](np.clip(scaled, 0.0, 1.0), bytes=True)
    return np.ascontiguousarray(rgba[..., :3])


def overlay(
    image: np.ndarray,
    qmap: QualityMap,
    alpha: float = ALPHA,
    vmin: float = 0.0,
    vmax: float = 100.0,
) -> np.ndarray:
    """The photo (uint8 H×W×3, any size with the map's aspect), in grey, blended with its
    coloured map (``alpha``: the map's opacity)."""
    height, width = image.shape[:2]
    colours = colorize(resample_map(qmap, height, width), vmin, vmax).astype(np.float32)
    # the photo in grey underneath, so that its own colours do not read as quality
    grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    blended = grey[..., None] * (1 - alpha) + colours * alpha
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def _png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def figure_png(
    image: np.ndarray,
    qmap: QualityMap,
    title: str = "",
    score: float | None = None,
    max_side: int = 1024,
    vmin: float = 0.0,
    vmax: float = 100.0,
) -> bytes:
    """A PNG of the overlay with a colour bar and a caption (score, map range, region size).

    ``score`` is shown in the caption (default: the map's whole-image score). The photo keeps
    its aspect ratio; its longer side is drawn at most ``max_side`` pixels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    height, width = image.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    shown_h, shown_w = max(1, round(height * factor)), max(1, round(width * factor))
    if factor < 1.0:
        from PIL import Image

        image = np.asarray(Image.fromarray(image).resize((shown_w, shown_h), Image.LANCZOS))
    blended = overlay(image, qmap, vmin=vmin, vmax=vmax)
    dpi = 100
    w_in, h_in = shown_w / dpi, shown_h / dpi
    bar_in, top_in = 1.0, 0.32
    fig = Figure(figsize=(w_in + bar_in, h_in + top_in), dpi=dpi)
    fig_w, fig_h = w_in + bar_in, h_in + top_in
    ax = fig.add_axes((0, 0, w_in / fig_w, h_in / fig_h))
    ax.imshow(blended, interpolation="nearest")
    ax.set_axis_off()
    cax = fig.add_axes(
        ((w_in + 0.12) / fig_w, 0.05 * h_in / fig_h, 0.16 / fig_w, 0.9 * h_in / fig_h)
    )
    mappable = plt.cm.ScalarMappable(norm=Normalize(vmin, vmax), cmap=CMAP)
    bar = fig.colorbar(mappable, cax=cax)
    bar.set_label("local quality (higher = better)", fontsize=9)
    bar.ax.tick_params(labelsize=8)
    caption = (
        f"score {qmap.score if score is None else score:.1f}   map {qmap.values.min():.0f}-{qmap.values.max():.0f}   "
        f"region {qmap.region:.0f} px"
    )
    fig.text(
        0.01, 1 - 0.06 / fig_h, f"{title}   {caption}".strip(), fontsize=9, va="top", ha="left"
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_map(
    path: str | os.PathLike,
    image: np.ndarray,
    qmap: QualityMap,
    raw: bool = False,
    title: str = "",
    score: float | None = None,
    value_range: tuple[float, float] | None = (0.0, 100.0),
) -> Path:
    """Write a map atomically: ``.npy`` (the float32 values), or a PNG (the overlay with colour
    bar and caption; ``raw``: the bare colour-mapped map at the image's size).

    Colours span ``value_range`` (the model's score range); ``None``: the map's own range.

    Examples
    --------
    >>> import tempfile
    >>> q = QualityMap(np.full((2, 3), 60.0, np.float32), 60.0, 40.0, 20.0, (80, 120))
    >>> out = save_map(Path(tempfile.mkdtemp()) / "m.npy", np.zeros((80, 120, 3), np.uint8), q)
    >>> np.load(out).shape
    (2, 3)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MAP_SUFFIXES:
        raise UserError(f"{path}: map output must end in .png or .npy")
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(qmap.values, dtype=np.float32))
        write_bytes_atomic(path, buffer.getvalue())
        return path
    if value_range is None:
        low, high = float(qmap.values.min()), float(qmap.values.max())
        value_range = (low, high if high > low else low + 1.0)
    if raw:
        height, width = image.shape[:2]
        data = _png_bytes(colorize(resample_map(qmap, height, width), *value_range))
    else:
        data = figure_png(
            image, qmap, title=title, score=score, vmin=value_range[0], vmax=value_range[1]
        )
    write_bytes_atomic(path, data)
    return path
