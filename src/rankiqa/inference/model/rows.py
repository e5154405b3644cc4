"""One result row per scored file, and the error text a failure puts in it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoredImage:
    """One result row: ``score`` is ``None`` and ``error`` says why when it failed."""

    path: str
    score: float | None
    error: str = ""


def error_text(path: str, exc: Exception) -> str:
    """An exception as an error-column text (without the path the row already shows)."""
    message = str(exc)
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
