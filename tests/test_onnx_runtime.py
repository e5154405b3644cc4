"""ONNX Runtime as the scoring runtime: same scores as PyTorch, cached export, fallbacks."""

from __future__ import annotations

import pickle

import pytest
import torch

pytest.importorskip("onnxruntime")

from rankiqa.core.errors import UserError  # noqa: E402
from rankiqa.inference.model.loading import untrained_model  # noqa: E402
from rankiqa.inference.scoring.onnx_runtime import (  # noqa: E402
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


def test_workers_score_with_their_own_sessions_in_order(lite_model, tmp_path):
    """iter_scores with an ONNX engine and workers: scores made in the worker processes equal
    the in-process PyTorch ones, rows keep the input order and a bad file costs its row."""
    import numpy as np
    from PIL import Image

    from rankiqa.inference.scoring.batch import iter_scores

    rng = np.random.default_rng(0)
    paths = []
    for k in range(7):
        path = tmp_path / f"{k}.png"
        Image.fromarray(rng.integers(0, 256, (60 + 9 * k, 80, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    paths.insert(3, str(tmp_path / "bad.png"))
    lite_model.runtime = None
    expected = list(iter_scores(lite_model, paths, workers=0))
    engine = attach_onnx_runtime(lite_model, cache_dir=tmp_path)

    class NotHere:
        def run(self, *args):
            raise AssertionError("scored in the main process")

    engine._session = NotHere()  # the workers' copies open their own sessions
    try:
        got = list(iter_scores(lite_model, paths, workers=2))
    finally:
        lite_model.runtime = None
    assert [r.path for r in got] == paths
    assert got[3].score is None and got[3].error and expected[3].score is None
    good = [(g.score, e.score) for g, e in zip(got, expected, strict=True) if e.score is not None]
    assert len(good) == 7
    assert [g for g, _ in good] == pytest.approx([e for _, e in good], abs=1e-4)
    assert pickle.loads(pickle.dumps(engine))._session is None  # a copy re-opens lazily


def test_exported_lite_graph_has_its_same_pads_inside_the_convolutions(lite_model, tmp_path):
    onnx = pytest.importorskip("onnx")
    runtime = attach_onnx_runtime(lite_model, cache_dir=tmp_path)
    lite_model.runtime = None
    graph = onnx.load(str(runtime.path)).graph
    assert not [n for n in graph.node if n.op_type == "Pad"]
    strided = [n for n in graph.node if n.op_type == "Conv"
               and [a.ints for a in n.attribute if a.name == "strides"][0] == [2, 2]]
    pads = sorted({tuple(a.ints) for n in strided for a in n.attribute if a.name == "pads"})
    assert pads == [(0, 0, 1, 1), (1, 1, 2, 2)]  # TensorFlow SAME: 3x3 and 5x5 kernels
