"""One regression-loss registry: finetune --loss and rankiqa.losses use the same functions."""

from __future__ import annotations

import pytest
import torch

from rankiqa.losses import regression_loss


def test_one_regression_loss_registry():
    from rankiqa.core.errors import UserError
    from rankiqa.losses import REGRESSION_LOSSES, get_regression_loss
    from rankiqa.training.finetune import LOSSES, loss_fn

    assert set(LOSSES) == set(REGRESSION_LOSSES) >= {"euclidean", "mse", "l1", "smoothl1"}
    pred = torch.tensor([1.0, 2.0, 4.0])
    target = torch.tensor([1.0, 0.0, 1.0])
    for name in REGRESSION_LOSSES:  # finetune trains with exactly the registry's functions
        assert loss_fn(name) is get_regression_loss(name)
        assert torch.equal(loss_fn(name)(pred, target), regression_loss(pred, target, name))
    assert regression_loss(pred, target, "mse").item() == pytest.approx(13 / 3)
    assert get_regression_loss("smooth_l1") is get_regression_loss("smoothl1")
    with pytest.raises(UserError, match="--loss: expected one of euclidean, mse, l1, smoothl1"):
        loss_fn("l3")
