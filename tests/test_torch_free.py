"""Scoring without torch: the shipped ONNX graphs, NumPy preprocessing, and a CLI that never
imports torch for ``--help``, ``score``, ``map`` and ``report``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rankiqa.core.preprocess import image_views as torch_views
from rankiqa.core.preprocess import to_float_tensor
from rankiqa.core.protocol import InputProtocol
from rankiqa.inference.model.loading import read_model
from rankiqa.inference.model.paths import graph_of, packaged_model_names, packaged_models_dir
from rankiqa.inference.model.regions import quality_map
from rankiqa.inference.scoring.onnx_model import load_onnx_model
from rankiqa.inference.scoring.views import image_views

PACKAGED = packaged_model_names()


def _photo(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth random image with some texture (closer to a photo than white noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC), np.int16)
    noise = rng.integers(-12, 13, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", PACKAGED)
def test_shipped_graph_is_current(name: str) -> None:
    """Each packaged model ships NAME.onnx exported from exactly its weights (else: run
    ``python -m rankiqa.inference.export.packaged``)."""
    path = packaged_models_dir() / f"{name}.safetensors"
    assert graph_of(path) is not None, f"{name}: graph missing or stale"


@pytest.mark.parametrize("name", PACKAGED)
def test_graph_agrees_with_torch(name: str) -> None:
    """Scores and maps of the shipped fp32 graph (no torch) equal the PyTorch model's to 1e-4
    (the int8 graph: tests/test_quantize.py)."""
    onnx_model, torch_model = load_onnx_model(name, precision="fp32"), read_model(name)
    for seed, (height, width) in enumerate([(240, 320), (523, 389), (64, 700)]):
        image = _photo(height, width, seed)
        a, b = onnx_model.score(image), torch_model.score(image)
        assert abs(a - b) < 1e-4, (name, height, width, a, b)
        qa, qb = onnx_model.quality_map(image), quality_map(torch_model, image)
        assert qa.values.shape == qb.values.shape
        np.testing.assert_allclose(qa.values, qb.values, atol=1e-4, rtol=0)
        assert abs(qa.score - qb.score) < 1e-4
        assert (qa.region, qa.stride, qa.image_size) == (qb.region, qb.stride, qb.image_size)


def test_stale_graph_is_not_used(tmp_path: Path) -> None:
    """A graph whose recorded digest differs from its model file is ignored."""
    source = packaged_models_dir() / "default.safetensors"
    model = tmp_path / "mine.safetensors"
    model.write_bytes(source.read_bytes())
    (tmp_path / "mine.onnx").write_bytes(b"")
    side = Path(f"{source.with_suffix('.onnx')}.json").read_text()
    (tmp_path / "mine.onnx.json").write_text(side)
    assert graph_of(model) is not None
    model.write_bytes(source.read_bytes() + b" ")  # other weights: the graph is stale
    assert graph_of(model) is None


@pytest.mark.parametrize(
    "protocol",
    [
        InputProtocol(resize=256),
        InputProtocol(resize=500, crop_size=224),
        InputProtocol(resize=None, crop_size=224),  # upscaling a small image
        InputProtocol(resize=300, test_crops="grid:3", crop_size=224),
        InputProtocol(resize=300, test_crops="center", crop_size=224),
    ],
)
def test_numpy_views_match_torch(protocol: InputProtocol) -> None:
    for shape in [(300, 400, 3), (1001, 677, 3), (40, 90, 3)]:
        image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
        expected = torch_views(to_float_tensor(image), protocol).numpy()
        got = image_views(image, protocol)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_numpy_views_refuse_like_torch() -> None:
    from rankiqa.core.imageio import ImageReadError

    for shape in [(20, 300, 3), (40, 4100, 3)]:
        with pytest.raises(ImageReadError):
            image_views(np.zeros(shape, np.uint8), InputProtocol(resize=336))


#: run the CLI with ``import torch`` failing, and check torch never entered sys.modules
BLOCK_TORCH = textwrap.dedent(
    """
    import sys
    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
    sys.meta_path.insert(0, NoTorch())
    from rankiqa.cli import main
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    assert "torch" not in sys.modules
    sys.exit(code)
    """
)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, *args], capture_output=True, text=True, timeout=300
    )


def test_cli_scores_maps_and_reports_without_torch(tmp_path: Path) -> None:
    for index in range(2):
        Image.fromarray(_photo(200, 300, index)).save(tmp_path / f"p{index}.jpg", quality=90)
    photo = str(tmp_path / "p0.jpg")
    help_run = _cli("--help")
    assert help_run.returncode == 0 and "score" in help_run.stdout, help_run.stderr
    scored = _cli("score", str(tmp_path), "--format", "csv")
    assert scored.returncode == 0, scored.stderr
    rows = scored.stdout.strip().splitlines()
    assert len(rows) == 3 and rows[1].split(",")[1]
    # the CLI's default precision is the API's (int8 where its check passed; fp32 equals
    # PyTorch: test_graph_agrees_with_torch)
    expected = load_onnx_model("default").score(photo)
    assert abs(float(rows[1].split(",")[1]) - expected) < 1e-3
    mapped = _cli("map", photo, "-o", str(tmp_path / "m.png"))
    assert mapped.returncode == 0, mapped.stderr
    assert (tmp_path / "m.png").stat().st_size > 0
    report = _cli("report", str(tmp_path), "--maps", "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "p1.jpg" in (tmp_path / "r.html").read_text()


def test_cli_asks_for_the_torch_extra_when_torch_is_needed(tmp_path: Path) -> None:
    run = _cli("score", "whatever.jpg", "--runtime", "torch")
    assert run.returncode == 2
    assert "pip install 'rankiqa[torch]'" in run.stderr and "Traceback" not in run.stderr


def test_top_level_summaries_match_the_subcommands() -> None:
    """``rankiqa --help`` lists each subcommand with the help its own module gives."""
    import argparse

    from rankiqa.cli import SUMMARIES, build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            given = {c.dest: c.help for c in action._choices_actions}
    assert given == SUMMARIES
