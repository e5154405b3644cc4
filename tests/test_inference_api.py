"""The Python scoring API: input kinds, protocols, differentiability, one-call score."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import rankiqa
from conftest import natural_image
from rankiqa.core.errors import UserError
from rankiqa.core.imageio import ImageReadError
from rankiqa.core.preprocess import InputProtocol, image_views, parse_test_crops, resize_shorter
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.saving import save_model


def tiny_model(test_crops: str = "center", resize: int | None = 200):
    protocol = {"resize": resize, "test_crops": test_crops, "crop_size": 192}
    return untrained_model("shallow", input=protocol, score={"offset": 50.0, "scale": 10.0})


@pytest.mark.parametrize("test_crops", ["center", "full", "grid:2", "crops:3"])
def test_input_kinds_give_the_same_score(tmp_path: Path, test_crops: str) -> None:
    model = tiny_model(test_crops)
    array = natural_image(210, 260, seed=1)
    path = tmp_path / "x.png"
    Image.fromarray(array).save(path)
    tensor = torch.from_numpy(array).permute(2, 0, 1).float() / 255
    expected = model.score(path)
    assert isinstance(expected, float)
    assert model.score(str(path)) == pytest.approx(expected, abs=1e-5)
    assert model.score(Image.open(path)) == pytest.approx(expected, abs=1e-5)
    assert model.score(array) == pytest.approx(expected, abs=1e-5)
    assert model.score(tensor) == pytest.approx(expected, abs=1e-5)
    batch = model.score(torch.stack([tensor, tensor.flip(-1)]))
    assert isinstance(batch, list) and batch[0] == pytest.approx(expected, abs=1e-5)
    assert model.score([path, array]) == pytest.approx([expected, expected], abs=1e-5)
    assert rankiqa.score(path, model=model) == pytest.approx(expected, abs=1e-5)


def test_one_call_api_loads_a_model_file(tmp_path: Path) -> None:
    path = save_model(tiny_model(), tmp_path / "m.safetensors")
    array = natural_image(200, 200)
    model = rankiqa.load_model(path)
    assert rankiqa.score([array], model=str(path)) == pytest.approx([model.score(array)])
    with pytest.raises(ImageReadError, match="missing.png"):
        model.score(tmp_path / "missing.png")
    with pytest.raises(UserError):
        model.score(torch.zeros(5, 5, dtype=torch.uint8))


def test_forward_is_differentiable_and_scaled() -> None:
    model = tiny_model()
    x = torch.rand(2, 3, 192, 192, requires_grad=True)
    out = model(x)
    assert out.shape == (2,)
    assert torch.allclose(out, 50.0 + 10.0 * model.net(x))
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_scores_are_deterministic_and_differ_between_images() -> None:
    model = tiny_model("crops:4")
    a, b = natural_image(220, 230, seed=1), natural_image(220, 230, seed=2)
    assert model.score(a) == model.score(a)
    assert model.score(a) != model.score(b)


def test_protocol_views() -> None:
    image = torch.rand(3, 300, 400)
    protocol = InputProtocol(resize=256, test_crops="full", crop_size=224)
    assert image_views(image, protocol).shape == (1, 3, 256, 341)
    center = image_views(image, InputProtocol(None, "center", 224))
    assert torch.equal(center[0], image[:, 38:262, 88:312])
    grid = image_views(image, InputProtocol(None, "grid", 100))
    assert grid.shape == (9, 3, 100, 100)
    assert torch.equal(grid[0], image[:, :100, :100]) and torch.equal(
        grid[-1], image[:, -100:, -100:]
    )
    crops = image_views(image, InputProtocol(None, "crops:30", 224))
    assert crops.shape == (30, 3, 224, 224)
    assert torch.equal(crops, image_views(image, InputProtocol(None, "crops:30", 224)))


def test_small_images_are_upscaled_to_the_crop_size() -> None:
    small = torch.rand(3, 50, 80)
    for kind in ("full", "center", "grid", "crops:2"):
        views = image_views(small, InputProtocol(resize=None, test_crops=kind, crop_size=100))
        assert min(views.shape[-2:]) == 100
    full = image_views(small, InputProtocol(resize=None, test_crops="full", crop_size=100))
    assert full.shape == (1, 3, 100, 160)
    assert torch.allclose(full[0], resize_shorter(small, 100))
    assert tiny_model().score(natural_image(48, 36)) == pytest.approx(
        tiny_model().score(natural_image(48, 36))
    )


def test_resize_matches_torchvision() -> None:
    from torchvision.transforms.v2 import functional as tvf

    image = torch.rand(3, 300, 400)
    ours = resize_shorter(image, 150)
    theirs = tvf.resize(image, [150], antialias=True).clamp(0, 1)
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("spec", ["", "crops", "crops:0", "grid:x", "full:2", "random"])
def test_bad_test_crops_rejected(spec: str) -> None:
    with pytest.raises(UserError, match="test crops"):
        parse_test_crops(spec)


@pytest.mark.parametrize("crops", ["center", "full", "crops:5", "grid"])
def test_with_protocol_is_differentiable_and_agrees_with_score(crops: str) -> None:
    from rankiqa.inference.model.loading import untrained_model

    head = "stats" if crops == "full" else "paper"
    protocol = {"resize": 200, "test_crops": crops, "crop_size": 192}
    model = untrained_model("shallow", head=head, input=protocol).eval()
    x = torch.rand(2, 3, 230, 310, requires_grad=True)
    scores = model.with_protocol()(x)
    expected = model.score(x.detach())
    assert scores.shape == (2,)
    assert scores.detach().tolist() == pytest.approx(expected, abs=1e-4)
    assert model.transforms()(x.detach()).shape[:2] == (2, model.views(x[0].detach()).shape[0])
    scores.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_a_bad_file_in_a_list_raises_naming_that_file(tmp_path, runtime) -> None:
    from rankiqa.inference.scoring.choice import load_scorer

    good, tiny = tmp_path / "good.png", tmp_path / "tiny.png"
    Image.fromarray(np.full((64, 80, 3), 128, np.uint8)).save(good)
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tiny)
    model = load_scorer(runtime=runtime, prefer="torch" if runtime == "torch" else "onnx")
    with pytest.raises(ImageReadError, match=rf"^{re.escape(str(tiny))}: 1x1 pixels"):
        model.score([str(good), str(tiny)])
