"""Options the scoring commands share for a photographer's workflow: XMP sidecars and score
filters (the work is in :mod:`rankiqa.workflow`)."""

from __future__ import annotations

import argparse

from rankiqa.cli.argtypes import score_bound


def add_xmp_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--xmp",
        action="store_true",
        help="write each photo's rating to its XMP sidecar (xmp:Rating 1-5 stars from the "
        "score, the score as rankiqa:Score); an existing sidecar is merged, not replaced",
    )
    parser.add_argument(
        "--xmp-style",
        choices=("darktable", "adobe"),
        default="darktable",
        help="sidecar names: darktable = photo.jpg.xmp (darktable, digiKam; default), "
        "adobe = photo.xmp (Lightroom, Camera Raw, Capture One)",
    )


def add_filter_options(parser: argparse.ArgumentParser, sort: bool = True) -> None:
    parser.add_argument(
        "--min-score",
        type=score_bound,
        default=None,
        help="keep rows scoring at least this (0 = keep all)",
    )
    parser.add_argument(
        "--max-score",
        type=score_bound,
        default=None,
        help="keep rows scoring at most this (0 = only scores of 0)",
    )
    if sort:
        parser.add_argument(
            "--sort",
            choices=("path", "score"),
            default="path",
            help="row order: path (default) or score (best first; errors last)",
        )


def model_label(model, requested: str | None) -> str:
    """The model's name for rankiqa:Model: its metadata name, else what was asked for."""
    metadata = getattr(model, "metadata", None)
    if isinstance(metadata, dict) and metadata.get("name"):
        return str(metadata["name"])
    return requested or "default"
