"""``load_model`` and ``score``: the one-line entry points of the scoring API.

Both work on the light install (``pip install rankiqa``, no torch): the packaged models run on
ONNX Runtime. With the ``torch`` extra, :func:`load_model` gives the PyTorch model, which is
also differentiable (``model(x)``, ``with_protocol()``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from rankiqa.inference.model.scorer import Scorer
from rankiqa.inference.scoring.choice import load_scorer, scorer_of


def load_model(
    name_or_path: str | os.PathLike | None = None,
    device: str | None = None,
    runtime: str = "auto",
    threads: int | None = None,
    precision: str = "auto",
) -> Scorer:
    """Load a quality model, ready to score.

    Parameters
    ----------
    name_or_path
        ``None`` / ``"default"`` (the packaged default model), the name of another packaged
        model (:func:`rankiqa.list_models`), a ``.safetensors`` model file, or a training
        checkpoint (``.pt``/``.pth`` from ``train-rank`` or ``finetune``; needs torch).
    device
        ``cpu``, ``cuda``, ... (default: the CPU). Devices other than the CPU need torch.
    runtime
        What runs the network in ``model.score``: ``auto``, ``torch`` or ``onnx`` (see
        :func:`rankiqa.inference.scoring.onnx_runtime.select_runtime`).
    threads
        CPU threads of the runtime (default: its own choice).
    precision
        What ``model.score`` computes in when ONNX Runtime runs the network: ``auto`` (the
        shipped int8 graph where it passed its accuracy check, else fp32), ``fp32`` or ``int8``
        (:mod:`rankiqa.inference.scoring.precision`); ``model(x)`` is always fp32 PyTorch.

    Returns
    -------
    Scorer
        With torch installed, an :class:`~rankiqa.inference.IQAModel` (an ``nn.Module``:
        ``model(x)`` and ``with_protocol()`` are differentiable; ``model.score`` runs on ONNX
        Runtime where that is faster); without torch, an
        :class:`~rankiqa.inference.scoring.onnx_model.OnnxModel`, whose torch-only methods
        raise an ``ImportError`` naming ``pip install 'rankiqa[torch]'``. Both score and map
        the same (to 1e-4). Loading never unpickles; a missing or malformed file raises
        :class:`~rankiqa.core.errors.UserError`.

    Examples
    --------
    >>> import numpy as np
    >>> model = load_model()
    >>> image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    >>> score = model.score(image)  # 0-100, higher is better
    >>> isinstance(score, float) and score == model.score(image)
    True
    """
    return load_scorer(name_or_path, device, runtime, threads, prefer="torch", precision=precision)


def score(
    images: Any | Sequence[Any],
    model: Scorer | str | os.PathLike | None = None,
    batch_size: int = 16,
    exact_decode: bool = False,
) -> float | list[float]:
    """Score an image or a list of images (paths, PIL images, arrays, tensors) in one call.

    Parameters
    ----------
    images
        A path, PIL image, uint8 H×W×3 array or float 3×H×W tensor in [0, 1] (tensors need
        torch), or a list of them.
    model
        A model from :func:`load_model` or anything it accepts (default: the packaged
        model). For thousands of files prefer ``rankiqa score`` or
        :class:`rankiqa.inference.scoring.run.ScoringRun` (parallel decoding); both decode
        JPEGs the same way (``exact_decode=True`` = ``--exact-decode``), so they agree.
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
    model = scorer_of(model, prefer="torch")
    return model.score(images, batch_size=batch_size, exact_decode=exact_decode)
