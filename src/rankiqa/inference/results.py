"""Result rows on disk or stdout (csv, jsonl, json, table), written as they come, and resume."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import IO

from rankiqa.core.errors import UserError
from rankiqa.inference.batch import ScoredImage

FORMATS = ("table", "csv", "json", "jsonl")
RESUMABLE = ("csv", "jsonl")
CSV_HEADER = ["path", "score", "error"]


def _score_text(score: float | None) -> str:
    return "" if score is None else f"{score:.4f}"


def _json_row(row: ScoredImage) -> str:
    score = None if row.score is None else round(row.score, 6)
    return json.dumps({"path": row.path, "score": score, "error": row.error}, ensure_ascii=False)


class RowWriter:
    """Writes rows to a text stream in one of :data:`FORMATS`, flushing after every row."""

    def __init__(self, stream: IO[str], fmt: str, path_width: int = 0, header: bool = True):
        if fmt not in FORMATS:
            raise UserError(f"--format: choose from {', '.join(FORMATS)}, got {fmt!r}")
        self.stream, self.fmt, self.count = stream, fmt, 0
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
            line = f"{row.path:<{self.path_width}}  {score:>9}  {row.error}".rstrip()
            self.stream.write(line + "\n")
        self.count += 1
        self.stream.flush()

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write("\n]\n" if self.count else "]\n")
        self.stream.flush()


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
