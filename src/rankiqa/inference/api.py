"""``load_model`` and ``score``: the one-line entry points of the scoring API."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankiqa.core.errors import UserError
from rankiqa.inference.model import IQAModel
from rankiqa.inference.registry import (
    DEFAULT_MODEL_NAME,
    MODEL_SUFFIX,
    list_models,
    packaged_models_dir,
)

CHECKPOINT_SUFFIXES = (".pt", ".pth")
#: former name of :func:`rankiqa.inference.registry.list_models`
packaged_model_names = list_models


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
    name_or_path: str | os.PathLike | None = None,
    device: str | None = None,
    runtime: str = "auto",
) -> IQAModel:
    """Load a quality model, ready to score, in eval mode.

    Parameters
    ----------
    name_or_path
        ``None`` / ``"default"`` (the packaged default model), the name of another packaged
        model (:func:`rankiqa.list_models`), a ``.safetensors`` model file, or a training
        checkpoint (``.pt``/``.pth`` from ``train-rank`` or ``finetune``).
    device
        ``cpu``, ``cuda``, ... (default: where it is loaded, the CPU).
    runtime
        What runs the network in ``model.score``: ``auto``, ``torch`` or ``onnx`` (see
        :func:`rankiqa.inference.onnx_runtime.select_runtime`); ``model(x)`` is always the
        differentiable PyTorch module.

    Returns
    -------
    IQAModel
        An ``nn.Module``; ``model.score(images)`` applies its input protocol. Loading never
        unpickles; a missing or malformed file raises :class:`~rankiqa.core.errors.UserError`.

    Examples
    --------
    >>> import numpy as np
    >>> model = load_model()
    >>> image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    >>> score = model.score(image)  # 0-100, higher is better
    >>> isinstance(score, float) and score == model.score(image)
    True
    """
    path = resolve_model_path(name_or_path)
    if path.suffix in CHECKPOINT_SUFFIXES:
        from rankiqa.inference.export import model_from_checkpoint

        model = model_from_checkpoint(path)
    else:
        model = load_model_file(path)
    if device is not None:
        model = model.to(device)
    from rankiqa.inference.onnx_runtime import select_runtime

    select_runtime(model.eval(), runtime)
    return model


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
    exact_decode: bool = False,
) -> float | list[float]:
    """Score an image or a list of images (paths, PIL images, arrays, tensors) in one call.

    Parameters
    ----------
    images
        A path, PIL image, uint8 H×W×3 array or float 3×H×W tensor in [0, 1], or a list of them.
    model
        An :class:`IQAModel` or anything :func:`load_model` accepts (default: the packaged
        model). For thousands of files prefer ``rankiqa score`` (parallel decoding); both
        decode JPEGs the same way (``exact_decode=True`` = ``--exact-decode``), so they agree.
    batch_size
        Images per forward pass.
    exact_decode
        Decode JPEGs at full size even when the protocol downscales them anyway.

    Returns
    -------
    float or list of float
        One score for one image, a list for a list.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.integers(0, 256, (200, 260, 3), dtype=np.uint8) for _ in range(2)]
    >>> scores = score(images)
    >>> len(scores), all(isinstance(s, float) for s in scores)
    (2, True)
    """
    if not isinstance(model, IQAModel):
        model = load_model(model)
    return model.score(images, batch_size=batch_size, exact_decode=exact_decode)
