"""The ranked-set folder format (docs/contracts.md, contract 1): file names, the manifest's
header, its writer and its reader. ``rankiqa distort`` writes it (:mod:`rankiqa.distortions`),
training reads it (:mod:`rankiqa.data.ranked`).

Layout::

    OUT/<reference>/pristine.png        level 0
    OUT/<reference>/<group>_<level>.png level >= 1 of a distortion group
    OUT/manifest.csv                    path,reference,distortion,level (one row per image)
    OUT/preset.json                     the preset, seed and size the set was made with

>>> image_name("kodim01", "gblur", 3), image_name("kodim01", PRISTINE, 0)
('kodim01/gblur_3.png', 'kodim01/pristine.png')
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_text_atomic

MANIFEST = "manifest.csv"
PRESET = "preset.json"
HEADER = ("path", "reference", "distortion", "level")
#: distortion name (and file stem) of level 0, the undistorted image
PRISTINE = "pristine"


def image_name(reference: str, group: str, level: int) -> str:
    """Path of one image relative to the set's folder."""
    return f"{reference}/{PRISTINE}.png" if level == 0 else f"{reference}/{group}_{level}.png"


@dataclass(frozen=True)
class ManifestRow:
    """One manifest line: ``path`` (relative), ``reference``, ``distortion``, ``level``."""

    path: str
    reference: str
    distortion: str
    level: int
    line: int = 0  #: line number in the file (for messages); 0 when not read from one


def write_manifest(root: str | os.PathLike, rows: Iterable[tuple[str, str, str, int]]) -> Path:
    """Write ``ROOT/manifest.csv`` (rows sorted by reference, distortion, level), atomically.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = write_manifest(folder, [("a/pristine.png", "a", PRISTINE, 0)])
    >>> [(r.path, r.level) for r in read_manifest(folder)]
    [('a/pristine.png', 0)]
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(sorted(rows, key=lambda r: (r[1], r[2], r[3])))
    path = Path(root) / MANIFEST
    write_text_atomic(path, text.getvalue())
    return path


def read_manifest(root: str | os.PathLike) -> Iterator[ManifestRow]:
    """The rows of ``ROOT/manifest.csv``, checked line by line (header, 4 fields, an integer
    level, level 0 exactly for the pristine image).

    Raises:
        UserError: missing folder or manifest, or a malformed line (named with its number).
    """
    root = Path(root)
    manifest = root / MANIFEST
    if not root.is_dir():
        raise UserError(f"{root}: ranked-set folder not found (run `rankiqa distort` first)")
    if not manifest.is_file():
        raise UserError(f"{manifest}: manifest not found (is {root} an output of rankiqa distort?)")
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != HEADER:
            raise UserError(f"{manifest}:1: expected header {','.join(HEADER)}, got {header}")
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 4:
                raise UserError(f"{manifest}:{lineno}: expected 4 fields, got {len(row)}")
            rel, reference, distortion, level_text = (v.strip() for v in row)
            try:
                level = int(level_text)
            except ValueError:
                raise UserError(
                    f"{manifest}:{lineno}: level must be an integer, got {level_text!r}"
                ) from None
            if (distortion == PRISTINE) != (level == 0):
                raise UserError(
                    f"{manifest}:{lineno}: level 0 must be the pristine image "
                    f"(got distortion={distortion!r}, level={level})"
                )
            if level < 0:
                raise UserError(f"{manifest}:{lineno}: negative level {level}")
            yield ManifestRow(rel, reference, distortion, level, lineno)


def read_preset(root: str | os.PathLike) -> dict:
    """Contents of ``ROOT/preset.json`` (``{}`` when absent)."""
    path = Path(root) / PRESET
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: invalid JSON ({exc})") from None
