"""Scoring images with trained quality models: model files, the API, batch scoring, export."""

from rankiqa.core.model_file import (
    build_metadata,
    read_metadata,
    read_model_file,
    save_model_file,
)
from rankiqa.core.preprocess import InputProtocol, image_views
from rankiqa.inference.api import load_model, load_model_file, packaged_model_names, score
from rankiqa.inference.model import IQAModel

__all__ = [
    "IQAModel",
    "InputProtocol",
    "build_metadata",
    "image_views",
    "load_model",
    "load_model_file",
    "packaged_model_names",
    "read_metadata",
    "read_model_file",
    "save_model_file",
    "score",
]
