"""Keep and order result rows by score: ``--min-score``, ``--max-score``, ``--sort``.

Rows without a score (errors) are always kept, so a filter never hides a failure; sorting by
score puts the best first and the errors last.

>>> from rankiqa.inference.model.rows import ScoredImage
>>> rows = [ScoredImage("a", 40.0), ScoredImage("b", None, "bad"), ScoredImage("c", 70.0)]
>>> [r.path for r in sort_rows(filter_rows(rows, ScoreRange(minimum=50)), "score")]
['c', 'b']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rankiqa.core.errors import UserError

#: what ``--sort`` accepts: ``path`` (the default order) or ``score`` (best first)
SORT_KEYS = ("path", "score")


@dataclass(frozen=True)
class ScoreRange:
    """Scores to keep: ``minimum <= score <= maximum`` (``None``: no bound)."""

    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if None not in (self.minimum, self.maximum) and self.minimum > self.maximum:
            raise UserError(f"--min-score {self.minimum} is above --max-score {self.maximum}")

    @property
    def active(self) -> bool:
        return self.minimum is not None or self.maximum is not None

    def keeps(self, score: float | None) -> bool:
        if score is None:
            return True
        if self.minimum is not None and score < self.minimum:
            return False
        return self.maximum is None or score <= self.maximum


def filter_rows(rows: Iterable[Any], limits: ScoreRange) -> Iterable[Any]:
    """The rows (anything with ``.score``) whose score ``limits`` keeps, lazily."""
    return (row for row in rows if limits.keeps(row.score))


def sort_rows(rows: Iterable[Any], key: str = "path") -> list[Any]:
    """Rows by ``path`` or by ``score`` (best first, ties by path, errors last)."""
    if key not in SORT_KEYS:
        raise UserError(f"--sort: choose from {', '.join(SORT_KEYS)}, got {key!r}")
    if key == "path":
        return sorted(rows, key=lambda r: r.path)
    return sorted(rows, key=lambda r: (r.score is None, -(r.score or 0.0), r.path))
