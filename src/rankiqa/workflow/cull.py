"""Cull a card of photos: group bursts and near-duplicates, pick the best of each by score.

Non-destructive: the photos are only read. :func:`export_picks` links (or copies) the picks
into a folder of their own; :func:`write_cull_rows` writes the table, atomically.

Examples
--------
>>> import numpy as np, tempfile
>>> from PIL import Image
>>> from rankiqa.inference.scoring.onnx_model import load_onnx_model
>>> folder = Path(tempfile.mkdtemp())
>>> rng = np.random.default_rng(0)
>>> scene = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
>>> Image.fromarray(scene).save(folder / "a1.png")
>>> Image.fromarray(scene[2:, 3:]).save(folder / "a2.png")       # the same scene, shifted
>>> Image.fromarray(255 - scene).save(folder / "b.png")          # another scene
>>> rows = cull(sorted(folder.glob("*.png")), load_onnx_model())
>>> [(Path(r.path).name, r.group) for r in rows], sum(r.pick for r in rows)
([('a1.png', 1), ('a2.png', 1), ('b.png', 2)], 2)
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_text_atomic
from rankiqa.core.imageio import DEFAULT_MAX_PIXELS, ImageReadError, read_image
from rankiqa.inference.scoring.batch import iter_scores
from rankiqa.workflow.bursts import BurstRule, group_bursts
from rankiqa.workflow.capture import capture_time
from rankiqa.workflow.fingerprint import SIDE, fingerprint

#: columns of the cull table (csv header, json keys)
CULL_COLUMNS = ["path", "score", "group", "pick", "error"]
#: shorter side a JPEG is decoded at for its fingerprint (libjpeg's reduced-scale decoding)
FINGERPRINT_DECODE = 4 * SIDE


@dataclass(frozen=True)
class CullRow:
    """One photo: its score, its group (1, 2, ...; ``None`` when it could not be read) and
    whether it is its group's pick (the best score; ties: the first path)."""

    path: str
    score: float | None
    group: int | None
    pick: bool
    error: str = ""
    time: float | None = None


def cull(
    paths: Sequence[str | os.PathLike],
    model: Any,
    rule: BurstRule | None = None,
    batch_size: int = 16,
    workers: int = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft: bool = True,
    progress: Callable[[], None] | None = None,
) -> list[CullRow]:
    """Score, group and pick ``paths`` (rows in the order given).

    ``model``: any scorer :func:`~rankiqa.inference.scoring.batch.iter_scores` takes (an
    ``OnnxModel`` or ``IQAModel``); ``rule``: when photos are one group (:class:`BurstRule`).
    A file that cannot be read gets a row with its error, no group and no pick.
    """
    paths = [str(p) for p in paths]
    scored = {}
    for row in iter_scores(model, paths, batch_size, workers, max_pixels, draft):
        scored[row.path] = row
        if progress is not None:
            progress()
    good = [p for p in paths if scored[p].score is not None]
    prints, times, errors = [], [], {}
    for path in good:
        try:
            image = read_image(path, max_pixels=max_pixels, draft_size=FINGERPRINT_DECODE)
        except ImageReadError as exc:  # scored a moment ago; changed since
            errors[path] = str(exc)
            continue
        prints.append(fingerprint(image))
        times.append(capture_time(path))
    good = [p for p in good if p not in errors]
    groups = group_bursts(np.array(prints).reshape(-1, SIDE, SIDE, 3), times, rule)
    best: dict[int, str] = {}
    for path, group in zip(good, groups, strict=True):
        if group not in best or scored[path].score > scored[best[group]].score:
            best[group] = path
    info = {p: (g, t) for p, g, t in zip(good, groups, times, strict=True)}
    rows = []
    for path in paths:
        if path in info:
            group, seconds = info[path]
            rows.append(
                CullRow(path, scored[path].score, group + 1, best[group] == path, "", seconds)
            )
        else:
            rows.append(CullRow(path, None, None, False, errors.get(path) or scored[path].error))
    return rows


# ----------------------------------------------------------------------------- output
def _cells(row: CullRow) -> list[Any]:
    score = "" if row.score is None else f"{row.score:.4f}"
    return [row.path, score, "" if row.group is None else row.group, int(row.pick), row.error]


def format_cull_rows(rows: Sequence[CullRow], fmt: str) -> str:
    """The rows as ``csv``, ``json``, ``jsonl`` or ``table`` text (ending in a newline).

    >>> print(format_cull_rows([CullRow("a.jpg", 61.25, 1, True)], "csv"), end="")
    path,score,group,pick,error
    a.jpg,61.2500,1,1,
    """
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CULL_COLUMNS)
        writer.writerows(_cells(row) for row in rows)
        return out.getvalue()
    if fmt in ("json", "jsonl"):
        items = [
            {
                "path": r.path,
                "score": None if r.score is None else round(r.score, 4),
                "group": r.group,
                "pick": int(r.pick),
                "error": r.error,
            }
            for r in rows
        ]
        if fmt == "jsonl":
            return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
        return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    if fmt != "table":
        raise UserError(f"--format: choose from csv, json, jsonl, table, got {fmt!r}")
    width = max([4, *(len(r.path) for r in rows)])
    lines = [f"{'path':<{width}}  {'score':>9}  {'group':>5}  pick  error"]
    for r in rows:
        path, score, group, pick, error = _cells(r)
        lines.append(f"{path:<{width}}  {score or '-':>9}  {group:>5}  {pick:>4}  {error}".rstrip())
    return "\n".join(lines) + "\n"


def write_cull_rows(path: str | os.PathLike, rows: Sequence[CullRow], fmt: str) -> None:
    """Write the rows to ``path`` in ``fmt``, atomically (temporary name, then rename)."""
    write_text_atomic(path, format_cull_rows(rows, fmt))


# ----------------------------------------------------------------------------- picks
#: how :func:`export_picks` puts a pick into the folder
PICK_MODES = ("link", "copy", "symlink")


def pick_targets(picks: Sequence[str], folder: str | os.PathLike) -> list[tuple[Path, Path]]:
    """(photo, its place in ``folder``): names relative to the photos' common folder, so
    ``a/IMG_1.jpg`` and ``b/IMG_1.jpg`` never collide.

    >>> [str(t) for _, t in pick_targets(["card/a/1.jpg", "card/b/1.jpg"], "keep")]
    ['keep/a/1.jpg', 'keep/b/1.jpg']
    """
    sources = [Path(os.path.abspath(p)) for p in picks]
    if not sources:
        return []
    base = os.path.commonpath([str(s.parent) for s in sources])
    return [
        (Path(p), Path(folder) / os.path.relpath(s, base))
        for p, s in zip(picks, sources, strict=True)
    ]


def _place(source: Path, target: Path, mode: str) -> str:
    """Link, copy or symlink one file; returns what was done (a hard link falls back to a
    copy across file systems)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == "symlink":
        target.symlink_to(os.path.abspath(source))
        return "symlink"
    if mode == "link":
        try:
            os.link(source, target)
            return "link"
        except OSError:
            pass  # another file system, or links not allowed: copy
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copy2(source, tmp)
    os.replace(tmp, target)
    return "copy"


def export_picks(
    picks: Sequence[str],
    folder: str | os.PathLike,
    mode: str = "link",
    sidecars: Callable[[Path], Sequence[Path]] | None = None,
) -> dict[str, int]:
    """Put the picked photos (and the sidecars ``sidecars(photo)`` lists, where they exist)
    into ``folder``: hard links by default (no extra space; a copy where a link cannot be
    made), ``copy`` or ``symlink``. The photos themselves are never moved or changed.

    A name in ``folder`` that already holds another file is refused before anything is
    placed (:class:`UserError`); one that already is the same file is left as it is.
    Returns how many files each way took (``{"link": 3, "copy": 1, "kept": 0}``).
    """
    if mode not in PICK_MODES:
        raise UserError(f"pick mode: choose from {', '.join(PICK_MODES)}, got {mode!r}")
    pairs = []
    for photo, target in pick_targets(picks, folder):
        pairs.append((photo, target))
        for sidecar in sidecars(photo) if sidecars else ():
            if sidecar.is_file():  # photo.jpg.xmp or photo.xmp: the same name beside the pick
                pairs.append((sidecar, target.parent / sidecar.name))
    todo = []
    for source, target in pairs:
        if target.exists() or target.is_symlink():
            if target.exists() and os.path.samefile(source, target):
                continue
            raise UserError(f"{target}: already exists and is not {source}; choose an empty folder")
        todo.append((source, target))
    done = {"link": 0, "copy": 0, "symlink": 0, "kept": len(pairs) - len(todo)}
    for source, target in todo:
        done[_place(source, target, mode)] += 1
    return done
