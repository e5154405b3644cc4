"""Which shipped graph scores: the fp32 graph ``NAME.onnx`` or the int8 graph ``NAME.int8.onnx``.

``precision="auto"`` (the default of ``rankiqa score/map/report`` and of the Python API) takes
the int8 graph when it is shipped for the same weights *and* its side file says it passed the
accuracy check (:mod:`rankiqa.inference.export.quantize`: on the LIVE Challenge lockbox and on
the other LIVE Challenge photos, SROCC within 0.005 of fp32's and scores within 2 points of
fp32's for 99 % of photos), else the fp32 graph. ``fp32`` always takes the fp32 graph; ``int8`` takes the int8 graph or fails with one
line.

Examples
--------
>>> from rankiqa.inference.model.paths import resolve_model_path
>>> graph, used = choose_graph(resolve_model_path("default"), "fp32")
>>> graph.name, used
('default.onnx', 'fp32')
"""

from __future__ import annotations

import os
from pathlib import Path

from rankiqa.core.errors import UserError
from rankiqa.inference.model.paths import graph_of, int8_graph_of

PRECISIONS = ("auto", "fp32", "int8")


def check_precision(precision: str) -> str:
    """``precision`` if valid, else :class:`UserError` naming the choices."""
    if precision not in PRECISIONS:
        raise UserError(f"invalid precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    return precision


def int8_choice(model_path: str | os.PathLike, precision: str) -> Path | None:
    """The int8 graph ``precision`` asks for (``None``: score in fp32).

    ``int8`` without an up-to-date int8 graph raises :class:`UserError`.
    """
    check_precision(precision)
    if precision == "fp32":
        return None
    graph, side = int8_graph_of(model_path)
    if precision == "int8":
        if graph is None:
            raise UserError(
                f"{model_path}: no int8 graph for these weights beside it (make one: python -m "
                "rankiqa.inference.export.packaged --calibration DIR; or use --precision fp32)"
            )
        return graph
    return graph if graph is not None and side.get("accepted") is True else None


def choose_graph(model_path: str | os.PathLike, precision: str = "auto") -> tuple[Path, str]:
    """(the graph to score with, ``"fp32"`` or ``"int8"``) for a model file that ships an
    up-to-date fp32 graph; :class:`UserError` when it has none."""
    int8 = int8_choice(model_path, precision)
    if int8 is not None:
        return int8, "int8"
    graph = graph_of(model_path)
    if graph is None:
        raise UserError(f"{model_path}: no up-to-date ONNX graph beside it")
    return graph, "fp32"
