"""Which runtime scores, decided in one place: ONNX Runtime on a shipped graph (no torch) or
the PyTorch model.

:func:`load_scorer` turns a name or path into a :class:`~rankiqa.inference.model.scorer.Scorer`;
:func:`scorer_of` is what every consumer calls with "a model or a name/path". A packaged model
(or a model file with an up-to-date graph beside it) on the CPU runs without torch; a
checkpoint, a model file without graph, ``runtime="torch"`` or a device other than the CPU
loads the PyTorch model (``pip install 'rankiqa[torch]'``, else
:class:`~rankiqa.core.errors.TorchMissing`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Any

from rankiqa.core.errors import TorchMissing, UserError
from rankiqa.inference.model.paths import graph_of, resolve_model_path
from rankiqa.inference.model.scorer import RUNTIMES, Scorer
from rankiqa.inference.scoring.onnx_model import OnnxModel
from rankiqa.inference.scoring.precision import check_precision, choose_graph, int8_choice

#: what :func:`load_scorer` prefers when both runtimes could score: the ONNX Runtime model
#: (fast start, no torch: the command line) or the PyTorch model (differentiable as well:
#: :func:`rankiqa.load_model` where torch is installed)
PREFERENCES = ("onnx", "torch")


def torch_installed() -> bool:
    """Whether PyTorch can be imported (the ``rankiqa[torch]`` extra)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as missing
        return False


def load_scorer(
    name_or_path: str | os.PathLike | None = None,
    device: str | None = None,
    runtime: str = "auto",
    threads: int | None = None,
    prefer: str = "onnx",
    precision: str = "auto",
) -> Scorer:
    """The model behind a name or path, ready to score.

    ``runtime``: ``auto``, ``torch`` (the PyTorch model and runtime) or ``onnx`` (ONNX
    Runtime: the shipped graph, or for the PyTorch model an export made with torch).
    ``device`` ``None`` or ``cpu`` allows the shipped graph. ``prefer`` (:data:`PREFERENCES`)
    decides when both could: ``torch`` gives the PyTorch model whenever torch is installed.
    ``threads``: CPU threads of the runtime. ``precision``: ``auto`` (the int8 graph where it
    is shipped and passed its accuracy check), ``fp32`` or ``int8``
    (:mod:`rankiqa.inference.scoring.precision`).

    Examples
    --------
    >>> load_scorer().runtime_name
    'onnxruntime'
    """
    if runtime not in RUNTIMES:
        raise UserError(f"invalid runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    if prefer not in PREFERENCES:
        raise UserError(f"invalid preference {prefer!r}; choose from {', '.join(PREFERENCES)}")
    check_precision(precision)
    path = resolve_model_path(name_or_path)
    graph = graph_of(path)
    has_torch = torch_installed()
    usable = graph is not None and runtime != "torch" and device in (None, "cpu")
    if usable and not (prefer == "torch" and has_torch):
        graph, used = choose_graph(path, precision)
        return OnnxModel(path, graph, threads, used)
    if not has_torch:
        if graph is None:
            raise TorchMissing(f"{path}: a model without an up-to-date ONNX graph beside it")
        raise TorchMissing(f"{path}: runtime {runtime!r} on device {device or 'cpu'!r}")
    if device is None and prefer == "onnx":
        device = "auto"  # the command line's --device default: CUDA when there is one
    return _torch_model(path, device, runtime, threads, precision)


def _torch_model(path, device: str | None, runtime: str, threads: int | None,
                 precision: str = "auto") -> Scorer:
    import torch

    from rankiqa.core.devices import resolve_device
    from rankiqa.inference.model.loading import read_model
    from rankiqa.inference.scoring.onnx_runtime import select_runtime

    if threads is not None:
        torch.set_num_threads(threads)
    int8 = int8_choice(path, precision)
    if int8 is not None and runtime == "torch":
        if precision == "int8":
            raise UserError("precision int8 runs on ONNX Runtime; use runtime onnx or auto")
        int8 = None
    model = read_model(path, str(resolve_device(device)) if device else None)
    model.runtime_request = functools.partial(
        select_runtime, runtime=runtime, graph=int8 or graph_of(path)
    )
    return model


def scorer_of(model: Any = None, **options: Any) -> Scorer:
    """``model`` itself when it is a model (anything but a name or path), else
    ``load_scorer(model, **options)``: the one place "a model or a name/path" is resolved."""
    if model is None or isinstance(model, (str, os.PathLike)):
        return load_scorer(model, **options)
    return model
