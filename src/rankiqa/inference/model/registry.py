"""The packaged models, the torchvision way: ``list_models()`` and ``get_model_weights(name)``.

Every ``NAME.safetensors`` in ``rankiqa/weights`` is a packaged model; everything known about
it (architecture, input normalisation, input protocol, score scale, metrics, recipe, licence)
is read from the file's own metadata, so adding a model is adding one file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankiqa.core.errors import UserError
from rankiqa.core.model_file import read_metadata
from rankiqa.core.protocol import InputProtocol
from rankiqa.inference.model import paths
from rankiqa.inference.model.paths import DEFAULT_MODEL_NAME, MODEL_SUFFIX

#: licence text for packaged models whose metadata states none
UNSTATED_LICENCE = (
    "not stated in the model file; see docs/model-card.md (training data and licences)"
)

__all__ = ["ModelWeights", "get_model_weights", "list_models"]


def list_models() -> list[str]:
    """Names of the packaged models (``default`` is the one used when none is named).

    Examples
    --------
    >>> "default" in list_models()
    True
    """
    return paths.packaged_model_names()


@dataclass(frozen=True)
class ModelWeights:
    """A packaged model's weights file and what its metadata says about it.

    Examples
    --------
    >>> weights = get_model_weights("default")
    >>> weights.transforms().protocol == weights.input
    True
    >>> sorted(weights.meta)
    ['backbone', 'head', 'input', 'licence', 'mean', 'metrics', 'recipe', 'score', 'std']
    >>> weights.get_model().protocol == weights.input
    True
    """

    name: str
    path: Path
    metadata: dict[str, Any] = field(repr=False)

    @property
    def input(self) -> InputProtocol:
        """The test-time input protocol (resize, views, crop size)."""
        return InputProtocol.from_dict(self.metadata["input"])

    @property
    def meta(self) -> dict[str, Any]:
        """Architecture, normalisation, protocol, score scale, metrics, recipe and licence."""
        config = self.metadata["model_config"]
        training = self.metadata.get("training") or {}
        return {
            "backbone": config["backbone"],
            "head": config["head"],
            "mean": list(config.get("mean", ())),
            "std": list(config.get("std", ())),
            "input": self.input.to_dict(),
            "score": dict(self.metadata["score"]),
            "metrics": dict(self.metadata.get("metrics") or {}),
            "recipe": training.get("recipe"),
            "licence": self.metadata.get("licence") or UNSTATED_LICENCE,
        }

    def transforms(self):
        """The input protocol as an ``nn.Module``: one image in, its views out (torch)."""
        from rankiqa.core.preprocess import InputTransform

        return InputTransform(self.input)

    def get_model(self, device: str | None = None):
        """The model, weights loaded, in eval mode (an :class:`~rankiqa.inference.IQAModel`)."""
        from rankiqa.inference.model.loading import load_model_file  # torch: only when used

        model = load_model_file(self.path)
        return (model.to(device) if device is not None else model).eval()


def get_model_weights(name: str | os.PathLike = DEFAULT_MODEL_NAME) -> ModelWeights:
    """The :class:`ModelWeights` of a packaged model (or of a ``.safetensors`` model file).

    Raises
    ------
    UserError
        No packaged model has that name and no such file exists.

    Examples
    --------
    >>> import torch
    >>> weights = get_model_weights("default")
    >>> model = weights.get_model()  # mean/std come from the file's metadata
    >>> torch.allclose(model.net.mean.flatten(), torch.tensor(weights.meta["mean"]))
    True
    """
    path = Path(name)
    if not path.is_file():
        stem = str(name).removesuffix(MODEL_SUFFIX)
        path = paths.packaged_models_dir() / f"{stem}{MODEL_SUFFIX}"
        if "/" in stem or os.sep in stem or not path.is_file():
            available = ", ".join(list_models()) or "none"
            raise UserError(f"no packaged model {str(name)!r} (packaged models: {available})")
    metadata = read_metadata(path)
    return ModelWeights(name=metadata.get("name") or path.stem, path=path, metadata=metadata)
