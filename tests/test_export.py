"""``rankiqa export``: checkpoint -> model file with metadata options, ONNX parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rankiqa.cli import main
from rankiqa.core.model_file import read_metadata
from rankiqa.inference import load_model
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.saving import save_model

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def tiny(head: str = "compact", crop: int = 192):
    protocol = {"resize": None, "test_crops": "center" if head == "paper" else "full"}
    protocol["crop_size"] = crop
    return untrained_model("shallow", head, input=protocol, score={"offset": 50.0, "scale": 10.0})


def onnx_scores(path: Path, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["score"], {"image": x.numpy()})[0]


@pytest.mark.parametrize("head, crop", [("compact", 192), ("stats", 240)])
def test_onnx_parity_with_dynamic_batch_and_size(tmp_path: Path, head: str, crop: int) -> None:
    model_path = save_model(tiny(head, crop), tmp_path / "m.safetensors")
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", str(model_path), "--format", "onnx", str(out)]) == 0
    model = load_model(model_path)
    torch.manual_seed(0)
    for shape in [(1, 3, crop, crop), (3, 3, crop + 8, crop + 72)]:
        x = torch.rand(*shape)
        with torch.inference_mode():
            expected = model(x).numpy()
        np.testing.assert_allclose(onnx_scores(out, x), expected, atol=1e-4, rtol=1e-5)
    proto = onnx.load(str(out))
    assert proto.opset_import[0].version >= 17
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["rankiqa"])["input"] == model.protocol.to_dict()
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert all(d.dim_param for d in dims[:1] + dims[2:])  # batch, height, width are symbolic


def test_onnx_paper_head_has_a_fixed_size(tmp_path: Path) -> None:
    model = tiny("paper", crop=227)
    out = tmp_path / "p.onnx"
    assert main(["export", "-m", str(save_model(model, tmp_path / "p.safetensors")), str(out)]) == 0
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[2].dim_value == 227 and dims[3].dim_value == 227
    x = torch.rand(2, 3, 227, 227)
    with torch.inference_mode():
        expected = model(x).numpy()
    np.testing.assert_allclose(onnx_scores(out, x), expected, atol=1e-4, rtol=1e-5)


def test_checkpoint_to_model_file_with_metadata_options(tmp_path: Path, capsys) -> None:
    from rankiqa.core.checkpoint import save_checkpoint

    net = tiny().net
    ckpt = tmp_path / "run" / "best.pt"
    save_checkpoint(
        ckpt,
        {"kind": "finetune", "model_config": net.config, "model": net.state_dict(), "step": 3},
    )
    (tmp_path / "recipe.json").write_text(json.dumps({"data": "clive-dev", "epochs": 2}))
    out = tmp_path / "mine.safetensors"
    args = ["export", str(ckpt), "--format", "rankiqa", str(out), "--input-resize", "256"]
    args += ["--test-crops", "center", "--crop-size", "192", "--name", "mine"]
    args += ["--licence", "CC-BY-4.0"]
    args += ["--metric", "clive_val_srocc=0.81", "--training-json", str(tmp_path / "recipe.json")]
    assert main(args) == 0
    metadata = read_metadata(out)
    assert metadata["input"] == {"resize": 256, "test_crops": "center", "crop_size": 192}
    assert metadata["name"] == "mine"
    assert metadata["licence"] == "CC-BY-4.0"
    from rankiqa.inference.model.registry import get_model_weights

    assert get_model_weights(out).meta["licence"] == "CC-BY-4.0"
    assert metadata["metrics"]["clive_val_srocc"] == 0.81
    assert (
        metadata["training"]["data"] == "clive-dev" and metadata["training"]["kind"] == "finetune"
    )
    x = torch.rand(1, 3, 192, 192)
    with torch.inference_mode():
        assert torch.allclose(load_model(out)(x), net(x), atol=1e-6)


@pytest.mark.parametrize(
    "args, message",
    [
        (["a.bin"], "suffix"),
        (["x.pt", "y.onnx", "z"], "at most two"),
        (["missing.pt", "y.safetensors"], "not found"),
    ],
)
def test_export_errors(tmp_path: Path, capsys, args, message) -> None:
    code = main(["export", *[str(tmp_path / a) for a in args]])
    assert code == 2 and message in capsys.readouterr().err


def test_export_model_library_function(tmp_path: Path) -> None:
    from rankiqa.core.errors import UserError
    from rankiqa.inference.export.onnx import export_model

    source = save_model(tiny(), tmp_path / "src.safetensors")
    out = export_model(
        source,
        tmp_path / "out.safetensors",
        input={"resize": 224, "test_crops": "center"},
        name="lib",
        licence="MIT",
        metrics={"srocc": 0.5},
    )
    metadata = read_metadata(out)
    assert metadata["input"] == {"resize": 224, "test_crops": "center", "crop_size": 192}
    assert (metadata["name"], metadata["licence"], metadata["metrics"]) == ("lib", "MIT", {"srocc": 0.5})
    onnx_path = export_model(load_model(out), tmp_path / "m.onnx")
    x = torch.rand(2, 3, 192, 192)
    with torch.inference_mode():
        expected = load_model(out)(x).numpy()
    np.testing.assert_allclose(onnx_scores(onnx_path, x), expected, atol=1e-4, rtol=1e-5)
    with pytest.raises(UserError, match="cannot tell the format"):
        export_model(source, tmp_path / "m.bin")


@pytest.mark.parametrize(
    "protocol",
    [
        {"resize": 224, "test_crops": "center", "crop_size": 192},
        {"resize": None, "test_crops": "full", "crop_size": 192},
        {"resize": 200, "test_crops": "grid:3", "crop_size": 192},
    ],
)
def test_onnx_with_preprocessing_scores_decoded_images(tmp_path: Path, protocol: dict) -> None:
    """The ONNX user feeds a decoded uint8 image of any size and gets ``model.score``."""
    from conftest import natural_image

    model = untrained_model("shallow", input=protocol, score={"offset": 50.0, "scale": 10.0})
    out = tmp_path / "m.onnx"
    model_path = save_model(model, tmp_path / "m.safetensors")
    args = ["export", "--model", str(model_path), "--with-preprocessing", str(out)]
    assert main(args) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    # larger (downscaled), odd-sized, smaller than the crop (upscaled), already at the size
    for height, width, seed in [(300, 410, 1), (333, 257, 2), (150, 170, 3), (224, 301, 4)]:
        image = natural_image(height, width, seed=seed)
        (got,) = session.run(["score"], {"image": image})
        assert got.shape == (1,)
        assert float(got[0]) == pytest.approx(model.score(image), abs=2e-3)


def test_onnx_with_preprocessing_refuses_random_crops(tmp_path: Path, capsys) -> None:
    model = untrained_model("shallow", input={"test_crops": "crops:5", "crop_size": 192})
    path = save_model(model, tmp_path / "m.safetensors")
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", str(path), "--with-preprocessing", str(out)]) == 2
    assert "random crops" in capsys.readouterr().err and not out.exists()
