"""Losses: the efficient all-pairs ranking loss and regression losses for fine-tuning."""

from rankiqa.losses.ranking import (
    RankingHingeLoss,
    ranking_accuracy,
    ranking_hinge_loss,
    ranking_pair_mask,
)
from rankiqa.losses.regression import (
    REGRESSION_LOSSES,
    RegressionLoss,
    euclidean_loss,
    get_regression_loss,
    regression_loss,
)

__all__ = [
    "REGRESSION_LOSSES",
    "RankingHingeLoss",
    "RegressionLoss",
    "euclidean_loss",
    "get_regression_loss",
    "ranking_accuracy",
    "ranking_hinge_loss",
    "ranking_pair_mask",
    "regression_loss",
]
