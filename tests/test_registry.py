"""Packaged models the torchvision way: list_models, get_model_weights, metadata, transforms."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import rankiqa
from conftest import natural_image
from rankiqa.core.errors import UserError
from rankiqa.core.preprocess import InputProtocol, InputTransform, image_views, to_float_tensor
from rankiqa.inference.model import paths
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.saving import save_model
from rankiqa.models import model_from_config


@pytest.fixture
def weights_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A packaged-models folder holding one tiny model file, ``tiny``."""
    model = untrained_model(
        "shallow", input={"resize": 240, "test_crops": "grid:2", "crop_size": 192}, name="tiny"
    )
    model.metadata["licence"] = "CC0-1.0"
    model.metadata["training"]["recipe"] = "recipes/tiny.sh"
    model.metadata["metrics"] = {"clive_srocc_median": 0.5}
    save_model(model, tmp_path / "tiny.safetensors")
    monkeypatch.setattr(paths, "packaged_models_dir", lambda: tmp_path)
    return tmp_path


def test_list_models_is_the_weights_folder(weights_dir: Path) -> None:
    assert rankiqa.list_models() == ["tiny"]
    shutil.copy(weights_dir / "tiny.safetensors", weights_dir / "second.safetensors")
    assert rankiqa.list_models() == ["second", "tiny"]


def test_weights_metadata_comes_from_the_file(weights_dir: Path) -> None:
    weights = rankiqa.get_model_weights("tiny")
    assert weights.input == InputProtocol(resize=240, test_crops="grid:2", crop_size=192)
    meta = weights.meta
    assert (meta["backbone"], meta["head"]) == ("shallow", "compact")
    assert meta["licence"] == "CC0-1.0" and meta["recipe"] == "recipes/tiny.sh"
    assert meta["metrics"] == {"clive_srocc_median": 0.5}
    assert meta["input"] == {"resize": 240, "test_crops": "grid:2", "crop_size": 192}
    model = weights.get_model()
    assert model.protocol == weights.input and not model.training


def test_unknown_model_is_a_user_error(weights_dir: Path) -> None:
    with pytest.raises(UserError, match=r"no packaged model 'nope' \(packaged models: tiny\)"):
        rankiqa.get_model_weights("nope")


def test_transforms_apply_the_input_protocol(weights_dir: Path) -> None:
    transform = rankiqa.get_model_weights("tiny").transforms()
    assert isinstance(transform, torch.nn.Module)
    array = natural_image(250, 330)
    expected = image_views(to_float_tensor(array), transform.protocol)
    assert expected.shape == (4, 3, 192, 192)
    assert torch.equal(transform(array), expected)
    assert torch.equal(transform(torch.from_numpy(array)), expected)
    assert torch.equal(transform(to_float_tensor(array)), expected)


def test_transform_matches_model_scoring(weights_dir: Path) -> None:
    weights = rankiqa.get_model_weights("tiny")
    model = weights.get_model()
    array = natural_image(250, 330, seed=3)
    with torch.no_grad():
        by_hand = float(model(weights.transforms()(array)).mean())
    assert by_hand == pytest.approx(model.score(array), abs=1e-5)


def test_normalisation_is_read_from_the_metadata(tmp_path: Path) -> None:
    model = untrained_model("shallow")
    image = natural_image(200, 240)
    before = model.score(image)
    model.metadata["model_config"]["mean"] = [0.5, 0.5, 0.5]
    model.metadata["model_config"]["std"] = [0.5, 0.5, 0.5]
    model.net.config.update(mean=[0.5] * 3, std=[0.5] * 3)
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = rankiqa.load_model(path)
    assert torch.equal(loaded.net.mean.flatten(), torch.full((3,), 0.5))
    assert torch.equal(loaded.net.std.flatten(), torch.full((3,), 0.5))
    assert loaded.score(image) != pytest.approx(before, abs=1e-4)
    assert rankiqa.get_model_weights(path).meta["mean"] == [0.5, 0.5, 0.5]


def test_configs_without_normalisation_use_the_backbone_default() -> None:
    net = model_from_config({"backbone": "shallow", "head": "compact"})
    assert torch.allclose(net.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))


def test_input_transform_accepts_only_images() -> None:
    transform = InputTransform(InputProtocol(test_crops="center", crop_size=32))
    with pytest.raises(UserError):
        transform(torch.zeros(2, 40, 40))
    with pytest.raises(UserError):
        transform(np.zeros((40, 40), np.float32))
