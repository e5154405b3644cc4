"""Compatibility shim: the input protocol lives in :mod:`rankiqa.core.preprocess`."""

from rankiqa.core.preprocess import (
    DEFAULT_GRID,
    DEFAULT_SEED,
    InputProtocol,
    center_crop,
    decode_size_hint,
    grid_crops,
    image_views,
    parse_test_crops,
    prepare_image,
    random_crops,
    resize_shorter,
    resized_size,
    to_float_tensor,
)

__all__ = [
    "DEFAULT_GRID",
    "DEFAULT_SEED",
    "InputProtocol",
    "center_crop",
    "decode_size_hint",
    "grid_crops",
    "image_views",
    "parse_test_crops",
    "prepare_image",
    "random_crops",
    "resize_shorter",
    "resized_size",
    "to_float_tensor",
]
