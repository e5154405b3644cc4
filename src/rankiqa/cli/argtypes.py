"""argparse value types shared by the subcommands (errors become one usage line)."""

from __future__ import annotations

import argparse


def _integer_at_least(minimum: int, text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer ≥ 1."""
    return _integer_at_least(1, text, "a positive integer")


def non_negative_int(text: str) -> int:
    """An integer ≥ 0."""
    return _integer_at_least(0, text, "an integer >= 0")


def resize(text: str) -> int | None:
    """A shorter side (integer ≥ 1) or ``none``/``native`` (native resolution)."""
    from rankiqa.core.errors import UserError
    from rankiqa.core.preprocess import parse_resize

    try:
        return parse_resize(text, option=None)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
