import pytest
import torch

from rankiqa.core.errors import UserError
from rankiqa.models import BACKBONES, build_model, model_from_config


@pytest.mark.parametrize("name", ["shallow", "alexnet", "resnet18", "mobilenet_v3_small"])
@pytest.mark.parametrize("head", ["paper", "compact", "stats"])
def test_one_score_per_image(name, head):
    model = build_model(name, head).eval()
    size = model.input_size
    with torch.no_grad():
        out = model(torch.rand(2, 3, size, size))
    assert out.shape == (2,)
    assert torch.isfinite(out).all()


def test_compact_head_accepts_any_size():
    model = build_model("alexnet", "compact").eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 300, 411)).shape == (1,)


def test_local_backbone_weights_roundtrip(tmp_path):
    source = build_model("alexnet")
    path = tmp_path / "features.pth"
    torch.save({f"features.{k}": v for k, v in source.backbone.state_dict().items()}, path)
    loaded = build_model("alexnet", backbone_weights=path)
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(loaded.backbone.state_dict()[key], value)


def test_wrong_weights_file_is_a_user_error(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save(build_model("shallow").backbone.state_dict(), path)
    with pytest.raises(UserError, match="bad.pth"):
        build_model("alexnet", backbone_weights=path)
    with pytest.raises(UserError, match="not found"):
        build_model("alexnet", backbone_weights=tmp_path / "missing.pth")


def test_config_rebuilds_architecture():
    model = build_model("resnet18", "paper")
    clone = model_from_config(model.config)
    assert clone.state_dict().keys() == model.state_dict().keys()


def test_head_gets_larger_learning_rate():
    model = build_model("shallow")
    groups = model.parameter_groups(1e-4, head_lr_mult=10)
    assert [g["lr"] for g in groups] == [1e-4, 1e-3]
    assert set(BACKBONES) >= {"shallow", "alexnet", "vgg16"}


@pytest.mark.parametrize("name", ["shallow", "alexnet", "vgg16", "resnet18", "mobilenet_v3_small"])
def test_stats_head_taps_match_declared_channels(name):
    from rankiqa.models.networks import feature_taps

    spec = BACKBONES[name]
    model = build_model(name, "stats").eval()
    with torch.no_grad():
        taps = feature_taps(
            model.backbone, torch.rand(1, 3, model.input_size, model.input_size), spec.taps
        )
    assert [t.shape[1] for t in taps] == list(spec.tap_channels)


def test_stats_head_width_is_part_of_the_config():
    model = build_model("shallow", "stats", head_hidden=24)
    assert model.head.fc[0].out_features == 24 and model.config["head_hidden"] == 24
    rebuilt = model_from_config(model.config)
    rebuilt.load_state_dict(model.state_dict())  # same shapes
    assert "head_hidden" not in build_model("shallow", "stats").config  # old files unchanged
    linear = build_model("shallow", "stats", head_hidden=0)
    assert len(linear.head.fc) == 1 and model_from_config(linear.config).config["head_hidden"] == 0
    for bad in (-3, "wide", 2.5):
        with pytest.raises(UserError, match="head_hidden"):
            build_model("shallow", "stats", head_hidden=bad)
