"""Saving quality models: rankiqa model files, metadata edits, checkpoint conversion."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rankiqa.core.model_file import save_model_file
from rankiqa.core.protocol import InputProtocol
from rankiqa.inference.model.iqa_model import IQAModel
from rankiqa.inference.model.loading import model_from_checkpoint


def save_model(model: IQAModel, path: str | os.PathLike) -> Path:
    """Write an :class:`IQAModel` (weights + metadata) as a rankiqa model file; weights in
    float16 when its metadata says it was stored so (``training.weights``)."""
    metadata = dict(model.metadata)
    metadata["model_config"] = dict(model.net.config)
    metadata["input"] = model.protocol.to_dict()
    half = (metadata.get("training") or {}).get("weights") == "float16"
    return save_model_file(path, model.net.state_dict(), metadata, half=half)


def with_metadata(
    model: IQAModel,
    input: dict[str, Any] | None = None,
    name: str | None = None,
    licence: str | None = None,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> IQAModel:
    """Update ``model``'s input protocol and metadata in place (and return it).

    ``input`` holds the protocol fields to change (``resize``, ``test_crops``, ``crop_size``);
    ``metrics`` and ``training`` are merged into the existing entries.

    Examples
    --------
    >>> from rankiqa.inference.model.loading import untrained_model
    >>> model = untrained_model("shallow", input={"crop_size": 192})
    >>> model = with_metadata(model, input={"resize": 256, "test_crops": "center"},
    ...                       name="mine", metrics={"srocc": 0.8})
    >>> model.protocol
    InputProtocol(resize=256, test_crops='center', crop_size=192)
    >>> model.metadata["name"], model.metadata["metrics"]
    ('mine', {'srocc': 0.8})
    """
    protocol = model.protocol.to_dict()
    protocol.update(input or {})
    model.protocol = InputProtocol.from_dict(protocol)
    metadata = model.metadata
    metadata["input"] = model.protocol.to_dict()
    if name:
        metadata["name"] = name
    if licence:
        metadata["licence"] = licence
    metadata["metrics"] = {**(metadata.get("metrics") or {}), **(metrics or {})}
    metadata["training"] = {**(metadata.get("training") or {}), **(training or {})}
    return model


def export_checkpoint(
    checkpoint_path: str | os.PathLike, out: str | os.PathLike, **metadata_options: Any
) -> Path:
    """Convert a training checkpoint into a rankiqa model file at ``out``."""
    return save_model(model_from_checkpoint(checkpoint_path, **metadata_options), out)
