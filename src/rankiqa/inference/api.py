"""``load_model`` and ``score``: the one-line entry points of the scoring API."""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from rankiqa.core.errors import UserError
from rankiqa.inference.model import IQAModel

DEFAULT_MODEL_NAME = "default"
MODEL_SUFFIX = ".safetensors"
CHECKPOINT_SUFFIXES = (".pt", ".pth")


def packaged_models_dir() -> Path:
    """The folder of models shipped inside the package (``rankiqa/weights``)."""
    return Path(str(resources.files("rankiqa.weights")))


def packaged_model_names() -> list[str]:
    """Names of the packaged model files (``default`` once it is shipped)."""
    return sorted(p.stem for p in packaged_models_dir().glob(f"*{MODEL_SUFFIX}"))


def resolve_model_path(name_or_path: str | os.PathLike | None = None) -> Path:
    """The file behind a model name (packaged) or path; :class:`UserError` if there is none."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL_NAME
    path = Path(name_or_path)
    if path.exists():
        if path.is_dir():
            raise UserError(f"{path}: is a directory, not a model file")
        return path
    text = str(name_or_path)
    if os.sep not in text and "/" not in text:
        stem = text.removesuffix(MODEL_SUFFIX)
        packaged = packaged_models_dir() / f"{stem}{MODEL_SUFFIX}"
        if packaged.is_file():
            return packaged
        available = ", ".join(packaged_model_names()) or "none"
        if stem == DEFAULT_MODEL_NAME:
            raise UserError(
                f"no default model is installed ({packaged} is missing); pass --model with a "
                f"model file or checkpoint (packaged models: {available})"
            )
        if path.suffix not in (MODEL_SUFFIX, *CHECKPOINT_SUFFIXES):
            raise UserError(
                f"model {text!r} not found: neither a file nor a packaged model "
                f"(packaged models: {available})"
            )
    raise UserError(f"{path}: model file not found")


def load_model(
    name_or_path: str | os.PathLike | None = None, device: str | None = None
) -> IQAModel:
    """Load a quality model, ready to score, in eval mode.

    ``name_or_path`` is ``None`` / ``"default"`` (the packaged default model), the name of
    another packaged model, a ``.safetensors`` model file, or a training checkpoint
    (``.pt``/``.pth`` from ``train-rank`` or ``finetune``). Loading never unpickles.
    """
    path = resolve_model_path(name_or_path)
    if path.suffix in CHECKPOINT_SUFFIXES:
        from rankiqa.inference.export import model_from_checkpoint

        model = model_from_checkpoint(path)
    else:
        model = load_model_file(path)
    if device is not None:
        model = model.to(device)
    return model.eval()


def load_model_file(path: str | os.PathLike) -> IQAModel:
    """An :class:`IQAModel` from a rankiqa ``.safetensors`` model file."""
    from rankiqa.core.model_file import read_model_file
    from rankiqa.models import model_from_config

    state, metadata = read_model_file(path)
    try:
        net = model_from_config(metadata["model_config"])
        net.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError) as exc:
        raise UserError(f"{path}: weights do not match the model_config ({exc})") from None
    metadata = dict(metadata)
    metadata.setdefault("name", None)
    metadata["name"] = metadata["name"] or Path(path).stem
    return IQAModel(net.eval(), metadata).eval()


def score(
    images: Any | Sequence[Any],
    model: IQAModel | str | os.PathLike | None = None,
    batch_size: int = 16,
) -> float | list[float]:
    """Score an image or a list of images (paths, PIL images, arrays, tensors) in one call.

    ``model`` is an :class:`IQAModel` or anything :func:`load_model` accepts (default: the
    packaged model). For thousands of files prefer ``rankiqa score`` (parallel decoding).
    """
    if not isinstance(model, IQAModel):
        model = load_model(model)
    return model.score(images, batch_size=batch_size)
