"""Every score of a squashed model lies in [0, 100]; too-small images are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import natural_image
from rankiqa.core.imageio import ImageReadError
from rankiqa.core.model_file import SQUASH_CENTER, scale_scores
from rankiqa.core.preprocess import MIN_SIDE
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.regions import quality_map


def squashed(offset: float, scale: float):
    protocol = {"resize": 192, "test_crops": "full", "crop_size": 192}
    score = {"offset": offset, "scale": scale, "squash": "logistic"}
    return untrained_model("shallow", input=protocol, score=score)


def test_logistic_squash_is_bounded_monotone_and_unit_slope_at_the_centre() -> None:
    raw = torch.linspace(-1e4, 1e4, 2001, dtype=torch.float64)
    out = scale_scores(raw, {"offset": 0.0, "scale": 1.0, "squash": "logistic"})
    assert out.min() >= 0 and out.max() <= 100
    assert bool((out[1:] >= out[:-1]).all())
    centre = torch.tensor([SQUASH_CENTER - 0.01, SQUASH_CENTER + 0.01], dtype=torch.float64)
    slope = scale_scores(centre, {"squash": "logistic"}).diff() / 0.02
    assert float(slope) == pytest.approx(1.0, rel=1e-3)
    linear = scale_scores(raw, {"offset": 0.0, "scale": 1.0})
    assert linear.max() > 100  # without the squash the same outputs leave the scale


@pytest.mark.parametrize("size", [(MIN_SIDE, MIN_SIDE), (40, 3000), (333, 47)])
def test_extreme_networks_still_score_inside_the_scale(size: tuple[int, int]) -> None:
    image = natural_image(*size)
    for scale in (1e6, -1e6):  # a network whose linear score is far outside 0-100
        model = squashed(offset=50.0, scale=scale)
        value = model.score(image)
        assert 0.0 <= value <= 100.0


def test_map_score_agrees_with_model_score() -> None:
    model = squashed(offset=50.0, scale=30.0)
    image = natural_image(96, 128)
    qmap = quality_map(model, image, clip=False)
    assert qmap.score == pytest.approx(model.score(image), abs=1e-3)
    assert qmap.values.min() >= 0.0 and qmap.values.max() <= 100.0


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (MIN_SIDE - 1, 200)])
def test_images_below_the_minimum_side_are_refused(size: tuple[int, int]) -> None:
    model = squashed(offset=50.0, scale=1.0)
    with pytest.raises(ImageReadError, match="too small"):
        model.score(np.full((*size, 3), 128, np.uint8))


def test_packaged_models_are_squashed() -> None:
    import rankiqa

    for name in rankiqa.list_models():
        meta = rankiqa.get_model_weights(name).meta
        assert meta["score"].get("squash") == "logistic", name
