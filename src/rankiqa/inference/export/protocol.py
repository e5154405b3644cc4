"""The input protocol as an ONNX graph, so that an exported model takes decoded images as they are.

:func:`protocol_graph` builds what :class:`~rankiqa.core.preprocess.InputTransform` does —
uint8 H×W×3 RGB → [0, 1] floats → resize (shorter side, bilinear with antialias) → upscale to
the crop size if smaller → views (``full``, ``center``, ``grid:K``) — from standard ONNX
operators (opset 18 ``Resize`` with ``antialias``), for any image size. ``crops:N`` (random
crops) has no exportable form. :func:`with_preprocessing` puts it in front of an exported
network and averages the views' scores, as ``IQAModel.score`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.core.protocol import InputProtocol, parse_test_crops

OPSET = 18  #: first opset whose Resize has antialiasing

__all__ = ["OPSET", "protocol_graph", "with_preprocessing"]


class _Graph:
    """A small builder of ONNX nodes with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"pre/{stem}_{self.count}"

    def const(self, value: Any, dtype: Any) -> str:
        from onnx import helper, numpy_helper

        out = self.name("const")
        tensor = numpy_helper.from_array(np.asarray(value, dtype=dtype), out)
        self.nodes.append(helper.make_node("Constant", [], [out], value=tensor))
        return out

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        from onnx import helper

        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def _resize_shorter(g: _Graph, x: str, target: int | None, at_least: int | None) -> str:
    """Resize N×3×H×W ``x`` so its shorter side is ``target`` (fixed) or ``max(shorter,
    at_least)``: sizes = round(HW · target / shorter), as ``resize_shorter`` computes them."""
    from onnx import TensorProto

    shape = g.op("Shape", x)
    hw = g.op("Gather", shape, g.const([2, 3], np.int64), axis=0)
    shorter = g.op("ReduceMin", hw, keepdims=1)
    if target is not None:
        goal = g.const([target], np.int64)
    else:
        goal = g.op("Max", shorter, g.const([at_least], np.int64))
    as_double = {"to": TensorProto.DOUBLE}
    scaled = g.op(
        "Div",
        g.op("Mul", g.op("Cast", hw, **as_double), g.op("Cast", goal, **as_double)),
        g.op("Cast", shorter, **as_double),
    )
    out_hw = g.op("Cast", g.op("Round", scaled), to=TensorProto.INT64)
    nc = g.op("Gather", shape, g.const([0, 1], np.int64), axis=0)
    sizes = g.op("Concat", nc, out_hw, axis=0)
    resized = g.op(
        "Resize",
        x,
        "",
        "",
        sizes,
        mode="linear",
        antialias=1,
        exclude_outside=1,
        coordinate_transformation_mode="half_pixel",
    )
    return g.op("Clip", resized, g.const(0.0, np.float32), g.const(1.0, np.float32))


def _center_crop(g: _Graph, x: str, hw: str, size: int) -> str:
    """Rows/cols ``[o, o + size)`` with ``o = (length - size) // 2`` (``center_crop``)."""
    free = g.op("Sub", hw, g.const([size, size], np.int64))
    start = g.op("Div", free, g.const([2, 2], np.int64))
    end = g.op("Add", start, g.const([size, size], np.int64))
    return g.op("Slice", x, start, end, g.const([2, 3], np.int64))


def _grid_crop(g: _Graph, x: str, hw: str, size: int, i: int, j: int, last: int) -> str:
    """Grid crop (i, j): offsets ``round(k·(L−size)/last)``, rounded half to even like
    ``core.protocol.crop_offsets`` (ONNX ``Round`` does the same)."""
    from onnx import TensorProto

    free = g.op("Cast", g.op("Sub", hw, g.const([size, size], np.int64)), to=TensorProto.DOUBLE)
    scaled = g.op("Div", g.op("Mul", free, g.const([i, j], np.float64)), g.const(last, np.float64))
    start = g.op("Cast", g.op("Round", scaled), to=TensorProto.INT64)
    end = g.op("Add", start, g.const([size, size], np.int64))
    return g.op("Slice", x, start, end, g.const([2, 3], np.int64))


def protocol_graph(protocol: InputProtocol, output: str = "views") -> Any:
    """An ONNX model: input ``image`` (uint8 H×W×3 RGB) → output ``views`` (V×3×h×w float).

    Raises
    ------
    UserError
        The protocol uses random crops (``crops:N``), which ONNX cannot reproduce.
    """
    from onnx import TensorProto, helper

    kind, count = parse_test_crops(protocol.test_crops)
    if kind == "crops":
        raise UserError(
            f"test crops {protocol.test_crops!r} (random crops) cannot be put into ONNX; "
            "export with --test-crops center, grid:K or full, or without --with-preprocessing"
        )
    g = _Graph()
    x = g.op("Div", g.op("Cast", "image", to=TensorProto.FLOAT), g.const(255.0, np.float32))
    x = g.op("Unsqueeze", g.op("Transpose", x, perm=[2, 0, 1]), g.const([0], np.int64))
    crop = int(protocol.crop_size)
    if protocol.resize is not None:
        x = _resize_shorter(g, x, int(protocol.resize), None)
    x = _resize_shorter(g, x, None, crop)  # upscale images smaller than the crop (else a no-op)
    hw = g.op("Gather", g.op("Shape", x), g.const([2, 3], np.int64), axis=0)
    if kind == "full":
        views = x
    elif kind == "center":
        views = _center_crop(g, x, hw, crop)
    else:  # grid: K×K crops, offsets as in core.protocol.crop_offsets
        if count == 1:
            views = _center_crop(g, x, hw, crop)
        else:
            crops = [
                _grid_crop(g, x, hw, crop, i, j, count - 1)
                for i in range(count)
                for j in range(count)
            ]
            views = g.op("Concat", *crops, axis=0)
    g.nodes.append(helper.make_node("Identity", [views], [output]))
    graph = helper.make_graph(
        g.nodes,
        "rankiqa_input_protocol",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["height", "width", 3])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["views", 3, None, None])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def with_preprocessing(network: Any, protocol: InputProtocol) -> Any:
    """``network`` (an ONNX model: ``image`` N×3×H×W → ``score`` N, opset 18) behind the
    protocol graph: ``image`` uint8 H×W×3 → ``score`` (1,), the mean over the views."""
    import onnx
    from onnx import compose, helper

    pre = protocol_graph(protocol, output="views")
    pre.ir_version = network.ir_version
    merged = compose.merge_models(pre, network, io_map=[("views", "image")], prefix2="net/")
    graph = merged.graph
    axes = helper.make_tensor("pre/mean_axes", onnx.TensorProto.INT64, [1], [0])
    graph.initializer.append(axes)
    graph.node.append(
        helper.make_node("ReduceMean", ["net/score", "pre/mean_axes"], ["score"], keepdims=1)
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("score", onnx.TensorProto.FLOAT, [1]))
    onnx.checker.check_model(merged)
    return merged
