"""Scoring images with trained quality models: model files, the API, batch scoring, export."""

from rankiqa.core.model_file import (
    build_metadata,
    read_metadata,
    read_model_file,
    save_model_file,
)
from rankiqa.core.preprocess import InputProtocol, InputTransform, image_views
from rankiqa.inference.api import load_model, load_model_file, packaged_model_names, score
from rankiqa.inference.model import IQAModel
from rankiqa.inference.registry import ModelWeights, get_model_weights, list_models

__all__ = [
    "IQAModel",
    "InputProtocol",
    "InputTransform",
    "ModelWeights",
    "build_metadata",
    "get_model_weights",
    "image_views",
    "list_models",
    "load_model",
    "load_model_file",
    "packaged_model_names",
    "read_metadata",
    "read_model_file",
    "save_model_file",
    "score",
]
