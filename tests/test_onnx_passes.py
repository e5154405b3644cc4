"""Graph passes on exported ONNX models: folding SAME pads into convolutions changes no output."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rankiqa.inference.export.passes import fold_pads_into_convs  # noqa: E402


def _pad_conv_model(pads, value=None, second_reader=False, dynamic_pads=False):
    """x -> Pad(pads, value) -> Conv(stride 2, 3x3, explicit pads 1 on the left) -> y."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(4, 2, 3, 3)).astype(np.float32), "w")]
    pad_inputs = ["x", "pads"]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, "h", "w"])]
    if dynamic_pads:
        inputs.append(helper.make_tensor_value_info("pads", TensorProto.INT64, [8]))
    else:
        inits.append(numpy_helper.from_array(np.array(pads, np.int64), "pads"))
    if value is not None:
        inits.append(numpy_helper.from_array(np.array(value, np.float32), "value"))
        pad_inputs.append("value")
    nodes = [
        helper.make_node("Pad", pad_inputs, ["xp"]),
        helper.make_node("Conv", ["xp", "w"], ["y"], strides=[2, 2], pads=[0, 1, 0, 0]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if second_reader:
        nodes.append(helper.make_node("Relu", ["xp"], ["z"]))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x, **extra):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x, **extra})


@pytest.mark.parametrize("shape", [(1, 2, 8, 8), (1, 2, 9, 7)])
def test_asymmetric_zero_pad_is_folded_and_outputs_are_equal(shape):
    pads = [0, 0, 0, 1, 0, 0, 1, 2]  # H: 0 before, 1 after; W: 1 before, 2 after
    model = _pad_conv_model(pads)
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    expected = _run(model, x)[0]
    assert fold_pads_into_convs(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Conv"]
    conv_pads = [list(a.ints) for a in model.graph.node[0].attribute if a.name == "pads"]
    assert conv_pads == [[0, 2, 1, 2]]  # the conv's own left pad 1 + the folded 1
    assert [t.name for t in model.graph.initializer] == ["w"]  # the pads tensor is gone
    np.testing.assert_allclose(_run(model, x)[0], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pads": [0, 0, 0, 0, 0, 0, 1, 1], "value": 0.5},  # not a zero pad
        {"pads": [0, 1, 0, 0, 0, 0, 1, 1]},  # pads a channel
        {"pads": [0, 0, 0, 0, 0, 0, 1, 1], "second_reader": True},  # read twice
        {"pads": None, "dynamic_pads": True},  # amounts known only at run time
    ],
)
def test_pads_that_cannot_be_folded_stay(kwargs):
    model = _pad_conv_model(**kwargs)
    before = model.SerializeToString()
    assert fold_pads_into_convs(model) == 0
    assert model.SerializeToString() == before
