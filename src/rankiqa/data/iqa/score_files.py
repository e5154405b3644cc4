"""What every dataset loader shares: image names resolved under the dataset root, score files
read (text, CSV, MATLAB) with errors naming file and line, and the table built from the rows.

Image names are resolved case-insensitively against the files present (TID2013 mixes ``.bmp``
and ``.BMP``); a name that would escape the dataset root (``../x``, an absolute path) is
refused. With ``verify=False`` no image has to exist (only the score files are parsed).

>>> parse_float(" 4.5", "mos.txt:3")
4.5
>>> Resolver(Path("/data/tid2013"), verify=False)("../secret.bmp", "mos.txt:3")
Traceback (most recent call last):
...
rankiqa.core.errors.UserError: mos.txt:3: image name '../secret.bmp' escapes the dataset root; refused
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.records import IQARecord, IQATable, normalise


class Resolver:
    """Joins dataset-relative names to the root, case-insensitively, refusing escapes."""

    def __init__(self, root: Path, verify: bool):
        self.root = root
        self.verify = verify
        self._listings: dict[Path, dict[str, str]] = {}

    def _listing(self, folder: Path) -> dict[str, str]:
        if folder not in self._listings:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            listing: dict[str, str] = {}
            for name in sorted(names):
                listing.setdefault(name.lower(), name)
            self._listings[folder] = listing
        return self._listings[folder]

    def __call__(self, name: str, where: str) -> Path:
        name = name.strip().replace("\\", "/")
        rel = PurePosixPath(name)
        if not name or rel.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in rel.parts:
            raise UserError(f"{where}: image name {name!r} escapes the dataset root; refused")
        path = self.root
        for part in rel.parts:
            if part == ".":
                continue
            candidate = path / part
            if not candidate.exists():
                actual = self._listing(path).get(part.lower())
                if actual is not None:
                    candidate = path / actual
            path = candidate
        if self.verify and not path.is_file():
            raise UserError(f"{where}: image {name!r} not found under {self.root}")
        return path


def need_file(path: Path, what: str = "score file") -> Path:
    """``path`` if it is a file, else a ``UserError`` naming it and ``what`` it is."""
    if not path.is_file():
        raise UserError(f"{path}: {what} not found")
    return path


def find_file(root: Path, *candidates: str) -> Path:
    """The first candidate file that exists under root (case-insensitive); error naming all."""
    resolver = Resolver(root, verify=False)
    for cand in candidates:
        path = resolver(cand, str(root))
        if path.is_file():
            return path
    raise UserError(
        f"{root / candidates[0]}: score file not found (also tried {', '.join(candidates[1:]) or 'nothing else'})"
    )


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-empty lines with 1-based numbers; CRLF/CR/BOM tolerated."""
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, line.strip()


def parse_float(value: Any, where: str, what: str = "score") -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: {what} {value!r} is not a number") from None
    if not np.isfinite(result):
        raise UserError(f"{where}: {what} {value!r} is not finite")
    return result


def load_mat(path: Path) -> dict[str, Any]:
    """The variables of a MATLAB file (SciPy); a missing or unreadable file is a ``UserError``."""
    from scipy.io import loadmat

    need_file(path, "MATLAB file")
    try:
        return loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's fault
        raise UserError(f"{path}: cannot read MATLAB file ({exc})") from None


def mat_var(mat: dict[str, Any], path: Path, *names: str) -> np.ndarray:
    """The first of ``names`` present in ``mat`` as an array; error naming the first."""
    for name in names:
        if name in mat:
            return np.asarray(mat[name])
    raise UserError(f"{path}: variable {names[0]!r} not found")


def mat_strings(array: np.ndarray) -> list[str]:
    """Flatten a MATLAB cell array of strings (as read by scipy) to Python strings."""
    out = []
    for item in np.asarray(array, dtype=object).ravel():
        while isinstance(item, np.ndarray):
            item = item.ravel()[0] if item.size else ""
        out.append(str(item))
    return out


def make_table(
    name: str,
    root: Path,
    rows: list[tuple[Path, float, str | None, str | None]],
    lo: float,
    hi: float,
    higher: bool,
    synthetic: bool,
    types: dict[str, str] | None = None,
    official_split: dict[str, tuple[int, ...]] | None = None,
    source: Path | None = None,
) -> IQATable:
    """The table of ``rows`` (path, raw score, reference, distortion), targets on 0–100."""
    if not rows:
        raise UserError(f"{source or root}: no rated images found")
    records = tuple(
        IQARecord(path, score, normalise(score, lo, hi, higher), ref, dist)
        for path, score, ref, dist in rows
    )
    return IQATable(
        name=name,
        root=root,
        records=records,
        direction="higher" if higher else "lower",
        score_range=(lo, hi),
        synthetic=synthetic,
        distortion_names=dict(types or {}),
        official_split=official_split,
    )


def csv_rows(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(where, row) for each data row of a CSV with a header (quoted or not, CRLF ok)."""
    need_file(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    for row in reader:
        number = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if header is None:
            header = [c.strip().lower() for c in row]
            continue
        if len(row) != len(header):
            raise UserError(f"{path}:{number}: expected {len(header)} fields, got {len(row)}")
        yield f"{path}:{number}", dict(zip(header, (c.strip() for c in row), strict=True))
    if header is None:
        raise UserError(f"{path}: empty file")


def require_columns(path: Path, row: dict[str, str], *columns: str) -> None:
    """Refuse a CSV whose header lacks any of ``columns`` (one error naming them all)."""
    missing = [c for c in columns if c not in row]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}")
