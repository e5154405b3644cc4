"""Scoring images with trained quality models: model files, the API, batch scoring, export."""

from rankiqa.inference.api import load_model, load_model_file, packaged_model_names, score
from rankiqa.inference.model import IQAModel
from rankiqa.inference.registry import ModelWeights, get_model_weights, list_models

__all__ = [
    "IQAModel",
    "ModelWeights",
    "get_model_weights",
    "list_models",
    "load_model",
    "load_model_file",
    "packaged_model_names",
    "score",
]
