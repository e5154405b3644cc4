"""Which engine scores: ONNX Runtime on a shipped graph (no torch) or the PyTorch model.

The command line scores through :func:`load_scorer`: a packaged model (or a model file with
an up-to-date graph beside it) on the CPU runs without importing torch; a checkpoint, a model
file without graph, ``--runtime torch`` or a ``--device`` other than the CPU loads the
PyTorch model (``pip install 'rankiqa[torch]'``).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from rankiqa.core.errors import UserError
from rankiqa.inference.model.map_grid import DEFAULT_OVERLAP, QualityMap
from rankiqa.inference.scoring.onnx_model import OnnxModel, shipped_graph
from rankiqa.inference.scoring.precision import check_precision, choose_graph

RUNTIMES = ("auto", "torch", "onnx")


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
    precision: str = "auto",
) -> Any:
    """An :class:`OnnxModel` where the model ships a graph and nothing asks for torch, else
    the PyTorch :class:`~rankiqa.inference.model.IQAModel` from :func:`rankiqa.load_model`.

    ``device`` ``None`` or ``cpu`` allows the graph; ``runtime`` ``torch`` forbids it,
    ``onnx`` requires ONNX Runtime (a shipped graph, or an export made with torch).
    ``precision``: ``auto`` (the int8 graph where it is shipped and passed its accuracy check),
    ``fp32`` or ``int8`` (:mod:`rankiqa.inference.scoring.precision`).
    """
    if runtime not in RUNTIMES:
        raise UserError(f"invalid runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    check_precision(precision)
    path, graph = shipped_graph(name_or_path)
    if graph is not None and runtime != "torch" and device in (None, "cpu"):
        graph, used = choose_graph(path, precision)
        return OnnxModel(path, graph, threads, used)
    if not torch_installed():
        why = "has no up-to-date ONNX graph beside it" if graph is None else "needs PyTorch here"
        raise UserError(f"{path}: {why}; install the torch extra: pip install 'rankiqa[torch]'")
    import torch

    from rankiqa.core.devices import resolve_device
    from rankiqa.inference.scoring.api import load_model

    if threads is not None:
        torch.set_num_threads(threads)
    return load_model(
        path, device=str(resolve_device(device)), runtime=runtime, precision=precision
    )


def map_image(
    model: Any, image: Any, region: int | None = None, overlap: int = DEFAULT_OVERLAP
) -> QualityMap:
    """The quality map of one image from either engine (see :class:`QualityMap`)."""
    if isinstance(model, OnnxModel):
        return model.quality_map(image, region=region, overlap=overlap)
    from rankiqa.inference.model.regions import quality_map

    return quality_map(model, image, region=region, overlap=overlap)
