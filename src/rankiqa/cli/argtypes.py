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
