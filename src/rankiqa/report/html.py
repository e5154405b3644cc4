"""A self-contained HTML page to browse a collection of images by quality.

One file, no network, no server: the rows (path, score, size, error, a small thumbnail as a
base64 JPEG or a path relative to the page, optionally the quality-map overlay) are embedded as
JSON; a small inline script sorts them (best or worst first), draws the score histogram as
inline SVG, filters by a score range and renders one page of cards at a time, so 10,000 images
stay responsive. A Content-Security-Policy forbids every fetch except embedded ``data:`` images
and files next to the page.
"""

from __future__ import annotations

import base64
import csv
import functools
import html
import io
import json
import math
import os
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_text_atomic
from rankiqa.core.imageio import DEFAULT_MAX_PIXELS, ImageReadError, image_size, read_image
from rankiqa.inference.model.scorer import Scorer

#: longer side of the embedded thumbnails (pixels)
THUMB_SIZE = 160
#: JPEG quality of the embedded thumbnails
THUMB_QUALITY = 80
#: cards per page in the browser
PAGE_SIZE = 120
CSV_HEADER = ["path", "score", "error"]


@dataclass
class ReportRow:
    """One image of the report.

    ``score`` is ``None`` for an image that could not be scored (``error`` says why); ``note``
    is a non-fatal remark (e.g. no thumbnail). ``thumb`` and ``map`` are image URLs (``data:``
    or relative to the page).
    """

    path: str
    score: float | None
    error: str = ""
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    thumb: str | None = None
    map: str | None = None
    note: str = ""


# ----------------------------------------------------------------------------- inputs
def read_scores_csv(path: str | os.PathLike) -> list[ReportRow]:
    """Rows of a ``path,score,error`` CSV as written by ``rankiqa score -o scores.csv``;
    relative paths are read relative to the CSV's folder (where it was written from elsewhere).

    Raises :class:`UserError` naming the file (and line) when it is missing or malformed.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = f.write_text("path,score,error\\na.jpg,71.5,\\nb.jpg,,not an image\\n")
    >>> [(Path(r.path).relative_to(f.parent).as_posix(), r.score, r.error)
    ...  for r in read_scores_csv(f)]
    [('a.jpg', 71.5, ''), ('b.jpg', None, 'not an image')]
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: scores file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read scores file ({exc})") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:2]] != CSV_HEADER[:2]:
        raise UserError(f"{path}: not a scores CSV (the header must be path,score,error)")
    rows: list[ReportRow] = []
    for number, record in enumerate(reader, start=2):
        if not record:
            continue
        if len(record) < 2 or not record[0]:
            raise UserError(f"{path}:{number}: expected path,score,error")
        value = record[1].strip()
        error = record[2].strip() if len(record) > 2 else ""
        score: float | None = None
        if value:
            try:
                score = float(value)
            except ValueError:
                raise UserError(f"{path}:{number}: score {value!r} is not a number") from None
            if not math.isfinite(score):
                raise UserError(f"{path}:{number}: score {value!r} is not finite")
        elif not error:
            error = "no score in the scores file"
        rows.append(ReportRow(_beside(record[0], path.parent), score, error))
    return rows


def _beside(name: str, folder: Path) -> str:
    """A scores file's relative path, read relative to the file's folder (where it was
    written from elsewhere), else to the current folder where only that one holds it."""
    if os.path.isabs(name) or folder == Path(".") or not folder.parts:
        return name
    there = folder / name
    if there.exists() or not Path(name).exists():
        return str(there)
    return name


def _data_uri(array: np.ndarray, quality: int = THUMB_QUALITY) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail(array: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """The image shrunk (aspect kept) so its longer side is at most ``size`` pixels."""
    from PIL import Image

    image = Image.fromarray(array)
    image.thumbnail((size, size), Image.BILINEAR, reducing_gap=2.0)
    return np.asarray(image)


def _relative_url(path: str, page_dir: Path) -> str:
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(page_dir))
    return urllib.request.pathname2url(relative)


def _read_row(
    path: str,
    known: ReportRow | None,
    decode: bool,
    draft: int | None,
    max_pixels: int | None,
) -> tuple[ReportRow, np.ndarray | None]:
    """A row with what is known without the model, and the decoded image (``None`` when not
    needed or unreadable)."""
    row = ReportRow(path, known.score if known else None, known.error if known else "")
    try:
        row.bytes = os.stat(path).st_size
    except OSError:
        row.bytes = None
    size = image_size(path, max_pixels)
    if size:
        row.width, row.height = size
    if not decode:
        if size is None and row.score is not None:
            row.note = "file not readable now"
        return row, None
    try:
        array = read_image(path, max_pixels=max_pixels, draft_size=draft)
    except ImageReadError as exc:
        message = str(exc).removeprefix(f"{path}: ")
        if row.score is None:
            row.error = row.error or message
        else:
            row.note = f"no thumbnail: {message}"
        return row, None
    if size is None:
        row.width, row.height = array.shape[1], array.shape[0]
    return row, array


def collect_rows(
    paths: Sequence[str],
    model: Scorer | None = None,
    scores: dict[str, ReportRow] | None = None,
    maps: bool = False,
    link_dir: str | os.PathLike | None = None,
    thumb_size: int = THUMB_SIZE,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    batch_size: int = 16,
) -> Iterator[ReportRow]:
    """One :class:`ReportRow` per path, in order: decode once, score (unless ``scores`` has
    the path; ``batch_size`` images per network batch), thumbnail (a ``data:`` JPEG, or with
    ``link_dir`` a URL relative to that folder) and, with ``maps``, the quality-map overlay as
    a thumbnail-sized JPEG. Rows of ``scores`` with ``link_dir`` and no maps decode nothing.

    A file that cannot be read costs its own row (its ``error``), never the run; a file whose
    score came from ``scores`` keeps it and gets a ``note`` instead.
    """
    from rankiqa.core.protocol import decode_size_hint

    need_model = maps or any(scores is None or p not in scores for p in paths)
    if need_model and model is None:
        raise UserError("a model is needed to score or map images that have no score yet")
    draft = None if model is None else decode_size_hint(model.protocol)
    draft = thumb_size if draft is None and not maps else draft
    # a 'full' protocol scores exactly the image a map runs on: the map pass gives the score
    map_scores = maps and model is not None and model.protocol.test_crops == "full"
    for start in range(0, len(paths), max(1, batch_size)):
        items = []
        for path in paths[start : start + batch_size]:
            known = scores.get(path) if scores else None
            decode = known is None or (known.score is not None and (maps or link_dir is None))
            items.append((*_read_row(path, known, decode, draft, max_pixels), known))
        unscored = [(row, a) for row, a, known in items if a is not None and known is None]
        if unscored and not map_scores:
            _score_rows(model, unscored)
        for row, array, known in items:
            if array is None:
                if link_dir is not None and row.score is not None and row.width and not row.note:
                    row.thumb = _relative_url(row.path, Path(link_dir))
                yield row
                continue
            small = thumbnail(array, thumb_size)
            if maps:
                try:
                    _add_map(model, row, array, small, known is None and map_scores)
                except UserError as exc:
                    row.error = str(exc)
                    row.score = None if known is None else row.score
            row.thumb = (
                _relative_url(row.path, Path(link_dir))
                if link_dir is not None
                else _data_uri(small)
            )
            yield row


def _score_rows(model: Scorer, rows: list[tuple[ReportRow, np.ndarray]]) -> None:
    """Score decoded images in one batched call (one by one if the batch fails)."""
    try:
        values = model.score([array for _, array in rows])
    except UserError:
        values = []
        for row, array in rows:
            try:
                values.append(float(model.score(array)))
            except UserError as exc:
                row.error = str(exc)
                values.append(None)
    for (row, _), value in zip(rows, values, strict=True):
        row.score = None if value is None else float(value)


def _add_map(model: Scorer, row: ReportRow, array: np.ndarray, small: np.ndarray, score: bool):
    from rankiqa.inference.model.map_grid import score_range
    from rankiqa.report.overlay import overlay

    qmap = model.region_map(array)
    low, high = score_range(model) or (float(qmap.values.min()), float(qmap.values.max()) + 1e-6)
    row.map = _data_uri(overlay(small, qmap, vmin=low, vmax=high))
    if score:
        row.score = qmap.score


# ----------------------------------------------------------------------------- the page
def _json_for_script(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # inside <script>: no "</script>", no HTML comment openers, no JS line separators
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def map_colors(stops: int = 9) -> list[str]:
    """The quality maps' colour scale, poor to good, as CSS colours for the page's legend.

    >>> len(map_colors(5)), map_colors(5)[0].startswith("#")
    (5, True)
    """
    from rankiqa.report.overlay import colorize

    rgb = colorize(np.linspace(0.0, 100.0, stops)[None, :])[0, :, :3]
    return ["#{:02x}{:02x}{:02x}".format(*map(int, c)) for c in rgb]


def build_report(
    rows: Iterable[ReportRow],
    title: str = "Image quality report",
    worst_first: bool = False,
    subtitle: str = "",
    page_size: int = PAGE_SIZE,
) -> str:
    """The report page as one HTML string (see the module docstring).

    Examples
    --------
    >>> page = build_report([ReportRow("a.jpg", 71.5), ReportRow("b.jpg", None, "not an image")])
    >>> page.startswith("<!DOCTYPE html>") and "b.jpg" in page
    True
    """
    items = []
    for row in rows:
        item = {k: v for k, v in asdict(row).items() if v not in (None, "")}
        if row.score is not None:
            item["score"] = round(float(row.score), 3)
        items.append(item)
    config = {
        "order": "asc" if worst_first else "desc",
        "pageSize": int(page_size),
        "subtitle": subtitle,
        "mapColors": map_colors() if any("map" in item for item in items) else [],
    }
    page = _template()
    page = page.replace("%%TITLE%%", html.escape(title))
    page = page.replace("%%CONFIG%%", _json_for_script(config))
    return page.replace("%%DATA%%", _json_for_script(items))


def write_report(path: str | os.PathLike, page: str) -> Path:
    """Write the page atomically (a temporary file, then a rename)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder; --output needs a .html file name")
    write_text_atomic(path, page)
    return path


def make_report(
    output: str | os.PathLike,
    paths: Sequence[str] = (),
    model: Scorer | None = None,
    scores_csv: str | os.PathLike | None = None,
    maps: bool = False,
    link: bool = False,
    worst_first: bool = False,
    title: str | None = None,
    thumb_size: int = THUMB_SIZE,
    progress: Callable[[ReportRow], None] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    keep: Callable[[float | None], bool] | None = None,
) -> list[ReportRow]:
    """Build and atomically write a report of ``paths`` (and/or the rows of ``scores_csv``).

    ``keep``: which scores the page shows (e.g. ``ScoreRange(50).keeps``; all by default);
    the rows it leaves out are not returned either.

    Images listed in ``scores_csv`` keep their scores (no re-scoring); other paths are scored
    with ``model``; images with more than ``max_pixels`` pixels get an error row. Returns the
    rows in input order.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "s.csv").write_text("path,score,error\\nx.jpg,50,\\n")
    >>> rows = make_report(folder / "r.html", scores_csv=folder / "s.csv", link=True)
    >>> [r.score for r in rows], (folder / "r.html").is_file()
    ([50.0], True)
    """
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"{output}: --output must be an .html file")
    known: dict[str, ReportRow] = {}
    order: list[str] = []
    if scores_csv is not None:
        for row in read_scores_csv(scores_csv):
            if row.path not in known:
                order.append(row.path)
            known[row.path] = row
    for path in paths:
        if path not in known and path not in order:
            order.append(path)
    if not order:
        raise UserError("nothing to report: give image paths or --from scores.csv")
    started = time.strftime("%Y-%m-%d %H:%M")
    rows = []
    for row in collect_rows(
        order,
        model=model,
        scores=known or None,
        maps=maps,
        link_dir=output.parent if link else None,
        thumb_size=thumb_size,
        max_pixels=max_pixels,
    ):
        if progress is not None:
            progress(row)
        if keep is None or keep(row.score):
            rows.append(row)
    name = getattr(model, "metadata", {}).get("name") if model is not None else None
    source = f"scores from {Path(scores_csv).name}" if scores_csv is not None else ""
    parts = [f"{len(rows)} files", source, f"model {name}" if name else "", started]
    page = build_report(
        rows,
        title=title or "Image quality report",
        worst_first=worst_first,
        subtitle=" · ".join(p for p in parts if p),
    )
    write_report(output, page)
    return rows


@functools.lru_cache(maxsize=1)
def _template() -> str:
    from importlib import resources

    return resources.files("rankiqa.report").joinpath("report_template.html").read_text("utf-8")
