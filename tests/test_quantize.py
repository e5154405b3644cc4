"""Int8 graphs: the quantisation path on a tiny model (scores track fp32), and which graph
``precision`` auto / fp32 / int8 picks from the side file's verdict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from image_fixtures import natural_image
from rankiqa.core.errors import UserError
from rankiqa.inference.export.packaged import export_graph, quantize_packaged
from rankiqa.inference.export.quantize import accepted, calibration_images
from rankiqa.inference.model.paths import (
    int8_graph_of,
    packaged_model_names,
    packaged_models_dir,
)
from rankiqa.inference.scoring.choice import load_scorer
from rankiqa.inference.scoring.precision import choose_graph


def _variants(seed: int) -> list[np.ndarray]:
    """A photo-like image, blurred, noisy and darkened: scores that spread."""
    image = natural_image(150, 200, seed)
    rng = np.random.default_rng(seed)
    blurred = np.asarray(Image.fromarray(image).resize((50, 38)).resize((200, 150)))
    noisy = np.clip(image + rng.normal(0, 25, image.shape), 0, 255).astype(np.uint8)
    return [image, blurred, noisy, (image * 0.4).astype(np.uint8)]


@pytest.fixture(scope="module")
def quantised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged default's trained weights at a small input (128 px, so the test is quick)
    with its fp32 graph and an int8 graph calibrated on 6 generated photos (no check run)."""
    from rankiqa.inference.model.loading import read_model
    from rankiqa.inference.model.saving import save_model, with_metadata

    folder = tmp_path_factory.mktemp("quantised")
    small = with_metadata(read_model("default"), input={"resize": 128, "crop_size": 128})
    model = save_model(small, folder / "tiny.safetensors")
    export_graph(model)
    calibration = folder / "calibration"
    calibration.mkdir()
    for seed in range(6):
        Image.fromarray(natural_image(150, 200, 100 + seed)).save(calibration / f"{seed}.png")
    quantize_packaged(model, [calibration])
    return model


def test_int8_scores_track_fp32(quantised: Path) -> None:
    fp32 = load_scorer(quantised, precision="fp32")
    int8 = load_scorer(quantised, precision="int8")
    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    assert int8.graph.name == "tiny.int8.onnx"
    images = [v for seed in range(4) for v in _variants(seed)]
    a, b = np.array(fp32.score(images)), np.array(int8.score(images))
    assert not np.array_equal(a, b)  # it is another graph ...
    spread = a.max() - a.min()
    assert spread > 5.0
    assert np.corrcoef(a, b)[0, 1] > 0.95  # ... whose scores track fp32's
    assert np.abs(a - b).max() < 0.25 * spread
    # the quality map runs on the int8 graph's feature maps too
    assert int8.quality_map(images[0]).shape == fp32.quality_map(images[0]).shape


def test_side_file_records_settings_and_calibration(quantised: Path) -> None:
    graph, side = int8_graph_of(quantised)
    assert graph is not None
    assert side["quantization"]["format"] == "QDQ"
    assert "/head/" in side["quantization"]["exclude"]
    assert side["calibration"]["photos"] == 6 and side["calibration"]["images"] == 12
    assert side["check"] is None and side["accepted"] is False


def test_auto_uses_int8_only_when_the_check_passed(quantised: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    for suffix in (".safetensors", ".onnx", ".onnx.json", ".int8.onnx", ".int8.onnx.json"):
        shutil.copy(quantised.with_suffix(suffix), model.with_suffix(suffix))
    side_path = model.with_suffix(".int8.onnx.json")
    side = json.loads(side_path.read_text())
    assert choose_graph(model, "auto")[1] == "fp32"  # no check: fp32
    check = {"srocc_fp32": 0.9, "srocc_int8": 0.897, "within_2_points": 0.995}
    assert accepted(check)
    assert not accepted({**check, "srocc_int8": 0.894})
    assert not accepted({**check, "within_2_points": 0.98})
    side_path.write_text(json.dumps({**side, "check": check, "accepted": True}))
    assert choose_graph(model, "auto") == (model.with_suffix(".int8.onnx"), "int8")
    assert choose_graph(model, "fp32") == (model.with_suffix(".onnx"), "fp32")
    model.write_bytes(model.read_bytes() + b" ")  # other weights: the int8 graph is stale
    assert int8_graph_of(model) == (None, {})
    with pytest.raises(UserError, match="no int8 graph"):
        choose_graph(model, "int8")
    with pytest.raises(UserError, match="invalid precision"):
        choose_graph(model, "fp16")


def test_calibration_set_is_photos_and_distorted_copies(tmp_path: Path) -> None:
    for seed in range(5):
        Image.fromarray(natural_image(60, 80, seed)).save(tmp_path / f"p{seed}.png")
    items = list(calibration_images([tmp_path], distorted=1))
    names = [name for name, _ in items]
    assert names[::2] == [f"p{seed}.png" for seed in range(5)]
    assert {n.split("+")[1][:-1] for n in names[1::2]} == {"gblur", "wn", "jpeg", "jp2k"}
    assert all(not np.array_equal(items[i][1], items[i + 1][1]) for i in range(0, 10, 2))
    with pytest.raises(UserError, match="no calibration images"):
        list(calibration_images([tmp_path / "empty"]))


@pytest.mark.parametrize("name", packaged_model_names())
def test_shipped_int8_graph_is_the_checked_one(name: str) -> None:
    """Each packaged model ships NAME.int8.onnx made from its weights, with the lockbox check's
    numbers, and ``accepted`` is what the rule says of them (regenerate: see
    rankiqa.inference.export.packaged)."""
    from rankiqa.inference.model.paths import file_digest

    graph, side = int8_graph_of(packaged_models_dir() / f"{name}.safetensors")
    assert graph is not None, f"{name}: int8 graph missing or stale"
    assert side["int8_sha256"] == file_digest(graph)
    assert side["check"]["photos"] == 200
    assert side["check"]["rest"]["photos"] == 504  # the other clive-dev photos: a larger check
    assert side["quantization"]["reduce_range"] is True  # no saturation on CPUs without VNNI
    assert side["accepted"] == accepted(side["check"])
