"""``load_model`` and ``score``: the one-line entry points of the scoring API (PyTorch models).

Scoring without torch (``rankiqa score`` with a packaged model) goes through
:func:`rankiqa.inference.scoring.choice.load_scorer`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

from rankiqa.core.errors import UserError
from rankiqa.inference.model.iqa_model import IQAModel
from rankiqa.inference.model.loading import read_model
from rankiqa.inference.model.paths import graph_of, resolve_model_path
from rankiqa.inference.scoring.onnx_runtime import RUNTIMES, select_runtime
from rankiqa.inference.scoring.precision import int8_choice


def load_model(
    name_or_path: str | os.PathLike | None = None,
    device: str | None = None,
    runtime: str = "auto",
    precision: str = "auto",
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
        :func:`rankiqa.inference.scoring.onnx_runtime.select_runtime`), attached when scoring
        starts (the first ``model.score``); ``model(x)`` is always the differentiable PyTorch
        module.
    precision
        What ``model.score`` computes in when ONNX Runtime runs the network: ``auto`` (the
        shipped int8 graph where it passed its accuracy check, else fp32), ``fp32`` or ``int8``
        (:mod:`rankiqa.inference.scoring.precision`); ``model(x)`` is always fp32 PyTorch.

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
    if runtime not in RUNTIMES:
        raise UserError(f"invalid runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    path = resolve_model_path(name_or_path)
    int8 = int8_choice(path, precision)
    if int8 is not None and runtime == "torch":
        if precision == "int8":
            raise UserError("precision int8 runs on ONNX Runtime; use runtime onnx or auto")
        int8 = None
    model = read_model(path, device)
    model.runtime_request = functools.partial(
        select_runtime, runtime=runtime, graph=int8 or graph_of(path)
    )
    return model


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
