"""Compatibility shim: model files are read and written by :mod:`rankiqa.core.model_file`."""

from rankiqa.core.model_file import (
    DEFAULT_SCORE,
    FORMAT,
    METADATA_KEY,
    VERSION,
    build_metadata,
    read_metadata,
    read_model_file,
    save_model_file,
    validate_metadata,
)

__all__ = [
    "DEFAULT_SCORE",
    "FORMAT",
    "METADATA_KEY",
    "VERSION",
    "build_metadata",
    "read_metadata",
    "read_model_file",
    "save_model_file",
    "validate_metadata",
]
