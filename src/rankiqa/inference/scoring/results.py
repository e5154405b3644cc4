"""Result rows on disk or stdout (csv, jsonl, json, table), written as they come, and resume."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import IO

from rankiqa.core.errors import UserError
from rankiqa.inference.model.rows import ScoredImage

FORMATS = ("table", "csv", "json", "jsonl")
RESUMABLE = ("csv", "jsonl")
CSV_HEADER = ["path", "score", "error"]


#: decimals of a score in every format (csv, json, jsonl, table)
DECIMALS = 4
#: table columns besides path and error: two gaps and the 9-character score
_TABLE_FIXED = 2 + 9 + 2
#: room kept for the error column when the table must fit a terminal
_MIN_ERROR_ROOM = 24


def _score_text(score: float | None) -> str:
    return "" if score is None else f"{score:.{DECIMALS}f}"


def shorten_middle(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to ``width`` characters by replacing its middle with ``ellipsis``.

    The end (a file's name) is kept longer than the start.

    >>> shorten_middle("/home/user/pictures/holiday/beach.jpg", 24)
    '/home/use…iday/beach.jpg'
    """
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return text[-width:]
    keep = width - len(ellipsis)
    head = keep * 2 // 5
    return text[:head] + ellipsis + text[len(text) - (keep - head) :]


def _json_row(row: ScoredImage) -> str:
    score = None if row.score is None else round(row.score, DECIMALS)
    return json.dumps({"path": row.path, "score": score, "error": row.error}, ensure_ascii=False)


class RowWriter:
    """Writes rows to a text stream in one of :data:`FORMATS`, flushing after every row.

    ``path_width`` pads the table's path column; with ``max_width`` (a terminal's columns)
    every table row fits in it: long paths are shortened in the middle and long errors cut,
    both marked with ``…`` (csv and json always hold the full text).
    """

    def __init__(
        self,
        stream: IO[str],
        fmt: str,
        path_width: int = 0,
        header: bool = True,
        max_width: int | None = None,
    ):
        if fmt not in FORMATS:
            raise UserError(f"--format: choose from {', '.join(FORMATS)}, got {fmt!r}")
        self.stream, self.fmt, self.count = stream, fmt, 0
        self.max_width = max_width
        self.ellipsis = _ellipsis_for(stream)
        if max_width is not None:
            room = max(10, max_width - _TABLE_FIXED - _MIN_ERROR_ROOM)
            path_width = min(path_width, room)
        self.path_width = max(4, path_width)
        if fmt == "csv":
            self._csv = csv.writer(stream, lineterminator="\n")
            if header:
                self._csv.writerow(CSV_HEADER)
        elif fmt == "json":
            stream.write("[")
        elif fmt == "table":
            stream.write(f"{'path':<{self.path_width}}  {'score':>9}  error\n")
        stream.flush()

    def write(self, row: ScoredImage) -> None:
        if self.fmt == "csv":
            self._csv.writerow([row.path, _score_text(row.score), row.error])
        elif self.fmt == "jsonl":
            self.stream.write(_json_row(row) + "\n")
        elif self.fmt == "json":
            self.stream.write(("\n" if self.count == 0 else ",\n") + "  " + _json_row(row))
        else:
            score = _score_text(row.score) or "-"
            path, error = row.path, row.error
            if self.max_width is not None:
                path = shorten_middle(path, self.path_width, self.ellipsis)
                room = max(0, self.max_width - self.path_width - _TABLE_FIXED)
                if len(error) > room:
                    error = error[: max(0, room - len(self.ellipsis))] + self.ellipsis
            line = f"{path:<{self.path_width}}  {score:>9}  {error}".rstrip()
            if self.max_width is not None:
                line = line[: self.max_width]
            self.stream.write(line + "\n")
        self.count += 1
        self.stream.flush()

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write("\n]\n" if self.count else "]\n")
        self.stream.flush()


def _ellipsis_for(stream: IO[str]) -> str:
    """``…`` where the stream's encoding has it, else ``...``."""
    try:
        "…".encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return "..."
    return "…"


def _complete_text(path: Path) -> str:
    """The file's text up to its last newline; a partial last line (killed writer) is cut off
    the file itself, so appending continues cleanly."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end)
    return data[:end].decode("utf-8", errors="replace")


def completed_paths(path: str | os.PathLike, fmt: str) -> tuple[set[str], bool]:
    """Paths already present in an output file, and whether it holds a csv header.

    Truncates a partial last line. Rows with errors count as done (delete them to retry).
    """
    path = Path(path)
    if fmt not in RESUMABLE:
        raise UserError(f"--resume works with --format csv or jsonl, not {fmt}")
    if not path.is_file():
        return set(), False
    text = _complete_text(path)
    done: set[str] = set()
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return done, False
        if rows[0] != CSV_HEADER:
            raise UserError(f"{path}: not a rankiqa csv output (header is not path,score,error)")
        done.update(row[0] for row in rows[1:] if row)
        return done, True
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            done.add(json.loads(line)["path"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UserError(f"{path}:{number}: not a rankiqa jsonl row") from None
    return done, False


class XlsxWriter:
    """Collects rows and writes them as a spreadsheet (path, score, error) on :meth:`close`,
    atomically; needs openpyxl (``pip install 'rankiqa[xlsx]'``)."""

    def __init__(self, path: str | os.PathLike):
        try:
            import openpyxl
        except ImportError:
            raise UserError(
                f"--output {path}: writing .xlsx needs openpyxl (pip install 'rankiqa[xlsx]'); "
                "or use .csv"
            ) from None
        self.path = Path(path)
        self.book = openpyxl.Workbook(write_only=True)
        self.sheet = self.book.create_sheet("scores")
        self.sheet.append(CSV_HEADER)
        self.count = 0

    def write(self, row: ScoredImage) -> None:
        score = None if row.score is None else round(row.score, DECIMALS)
        self.sheet.append([row.path, score, row.error or None])
        self.count += 1

    def close(self) -> None:
        from rankiqa.core.files import atomic_path

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            self.book.save(tmp)
