"""ONNX Runtime as the scoring runtime: same scores as PyTorch, cached export, fallbacks."""

from __future__ import annotations

import pickle

import pytest
import torch

pytest.importorskip("onnxruntime")

from rankiqa.errors import UserError  # noqa: E402
from rankiqa.inference.export import untrained_model  # noqa: E402
from rankiqa.inference.onnx_runtime import (  # noqa: E402
    attach_onnx_runtime,
    model_digest,
    select_runtime,
)


@pytest.fixture(scope="module")
def lite_model():
    return untrained_model("efficientnet_lite0", "stats", input={"resize": 64, "crop_size": 64})


def test_onnx_scores_equal_torch_for_several_sizes(lite_model, tmp_path):
    images = [torch.rand(3, 70, 101), torch.rand(3, 64, 64), torch.rand(3, 99, 67)]
    lite_model.runtime = None
    expected = lite_model.score(images)
    attach_onnx_runtime(lite_model, cache_dir=tmp_path)
    assert lite_model.runtime_name == "onnxruntime"
    got = lite_model.score(images)
    lite_model.runtime = None
    assert got == pytest.approx(expected, abs=1e-4)
    assert list(tmp_path.glob("onnx/*.onnx"))


def test_export_is_cached_and_a_damaged_cache_file_is_rebuilt(lite_model, tmp_path):
    attach_onnx_runtime(lite_model, cache_dir=tmp_path)
    path = tmp_path / "onnx" / f"{model_digest(lite_model)}.onnx"
    stamp = path.stat().st_mtime_ns
    attach_onnx_runtime(lite_model, cache_dir=tmp_path)
    assert path.stat().st_mtime_ns == stamp  # reused, not exported again
    path.write_bytes(b"not an onnx file")
    attach_onnx_runtime(lite_model, cache_dir=tmp_path)
    assert path.stat().st_size > 1000
    lite_model.runtime = None


def test_auto_uses_onnx_for_depthwise_backbones_only(lite_model):
    assert select_runtime(lite_model, "auto") == "onnx"
    alexnet = untrained_model("alexnet", "stats")
    assert select_runtime(alexnet, "auto") == "torch" and alexnet.runtime is None
    assert select_runtime(lite_model, "torch") == "torch" and lite_model.runtime is None
    with pytest.raises(UserError, match="invalid runtime"):
        select_runtime(lite_model, "tensorrt")


def test_paper_head_cannot_use_onnx():
    model = untrained_model("shallow", "paper")
    with pytest.raises(UserError, match="paper"):
        select_runtime(model, "onnx")
    assert select_runtime(model, "auto") == "torch"


def test_pickled_model_drops_the_session(lite_model, tmp_path):
    attach_onnx_runtime(lite_model, cache_dir=tmp_path)
    copy = pickle.loads(pickle.dumps(lite_model))
    assert copy.runtime is None and lite_model.runtime is not None
    lite_model.runtime = None
