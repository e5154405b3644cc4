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

from light_install import BLOCK_TORCH, NO_TORCH
from rankiqa.core.protocol import InputProtocol
from rankiqa.inference.model.loading import read_model
from rankiqa.inference.model.paths import graph_of, packaged_model_names, packaged_models_dir
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
        qa, qb = onnx_model.region_map(image), torch_model.region_map(image)
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


def test_numpy_views_refuse_like_torch() -> None:
    from rankiqa.core.imageio import ImageReadError

    for shape in [(20, 300, 3), (40, 4100, 3)]:
        with pytest.raises(ImageReadError):
            image_views(np.zeros(shape, np.uint8), InputProtocol(resize=336))


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


#: the README's Python example on the light install, plus the torch-only calls
README_EXAMPLE = NO_TORCH + textwrap.dedent(
    """
    import json
    import rankiqa
    photo, other = sys.argv[1:3]
    model = rankiqa.load_model(precision="fp32")  # the same numbers as the PyTorch model
    out = {"runtime": model.runtime_name, "one": model.score(photo)}
    out["list"] = model.score([photo, other])
    out["map"] = model.quality_map(photo).tolist()
    out["api"] = rankiqa.score([photo, other], model=model)
    out["auto"] = rankiqa.score([photo, other])  # the README's call: int8 where it passed
    errors = {}
    for name, call in {
        "with_protocol": lambda: model.eval().with_protocol(),
        "call": lambda: model(None),
        "transforms": lambda: model.transforms(),
        "checkpoint": lambda: rankiqa.load_model(sys.argv[3]),
        "runtime_torch": lambda: rankiqa.load_model(runtime="torch"),
        "IQAModel": lambda: rankiqa.inference.IQAModel,
    }.items():
        try:
            call()
        except ImportError as exc:
            errors[name] = str(exc)
    out["errors"] = errors
    out["torch_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
    print(json.dumps(out))
    """
)


def test_readme_python_example_runs_without_torch(tmp_path: Path) -> None:
    """The light install: load_model, score, quality_map and rankiqa.score on ONNX Runtime,
    equal to the PyTorch model; what needs torch raises an ImportError naming the extra."""
    import json

    photos = []
    for index in range(2):
        photos.append(str(tmp_path / f"p{index}.jpg"))
        Image.fromarray(_photo(300, 420, index)).save(photos[-1], quality=90)
    checkpoint = tmp_path / "run.pt"
    checkpoint.write_bytes(b"")
    run = subprocess.run(
        [sys.executable, "-c", README_EXAMPLE, *photos, str(checkpoint)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["runtime"] == "onnxruntime" and out["torch_loaded"] == []
    torch_model = read_model("default")
    expected = torch_model.score(photos)
    assert out["one"] == pytest.approx(expected[0], abs=1e-4)
    assert out["list"] == pytest.approx(expected, abs=1e-4)
    assert out["api"] == pytest.approx(expected, abs=1e-4)
    assert out["auto"] == pytest.approx(expected, abs=2.0)  # int8 within its 2-point rule
    np.testing.assert_allclose(out["map"], torch_model.quality_map(photos[0]), atol=1e-4)
    assert set(out["errors"]) == {
        "with_protocol", "call", "transforms", "checkpoint", "runtime_torch", "IQAModel"
    }
    for name, message in out["errors"].items():
        assert message.endswith("needs PyTorch: pip install 'rankiqa[torch]'"), (name, message)
        assert "\n" not in message


@pytest.mark.parametrize(
    "command",
    [
        ["train-rank", "--data", "ranked", "--out", "runs/rank"],
        ["finetune", "--dataset", "clive", "--root", ".", "--out", "runs/ft"],
        ["evaluate", "--model", "default", "--dataset", "clive", "--root", "."],
        ["export", "--model", "default", "--format", "onnx", "m.onnx"],
        ["distort", "in", "out"],
        ["compare", "a.csv", "b.csv"],
    ],
    ids=lambda c: c[0],
)
def test_torch_commands_say_which_install_they_need(command: list[str], tmp_path: Path) -> None:
    """On the light install each command that needs the torch extra shows its --help, and
    running it ends in one line naming what is missing and the extra, and exit 2, never a
    traceback."""
    shown = _cli(command[0], "--help")
    assert shown.returncode == 0 and shown.stdout.startswith("usage: rankiqa"), shown.stderr
    run = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, *command],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stderr
    needs = {"distort": "OpenCV (in the torch extra)", "compare": "SciPy (in the torch extra)"}
    assert run.stderr == (f"rankiqa: error: rankiqa {command[0]} needs "
                          f"{needs.get(command[0], 'PyTorch')}: pip install 'rankiqa[torch]'\n")
    assert not (tmp_path / "runs").exists()
