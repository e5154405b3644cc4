"""Compatibility shim: decoding lives in :mod:`rankiqa.core.imageio`, atomic writes in
:mod:`rankiqa.core.files`."""

from rankiqa.core.files import atomic_path, write_bytes_atomic, write_text_atomic
from rankiqa.core.imageio import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageReadError,
    find_images,
    read_image,
    to_rgb8,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "atomic_path",
    "find_images",
    "read_image",
    "to_rgb8",
    "write_bytes_atomic",
    "write_text_atomic",
]
