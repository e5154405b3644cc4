"""Regression losses for fine-tuning on mean opinion scores."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

REGRESSION_LOSSES = ("euclidean", "l1", "smooth_l1")


def euclidean_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Caffe's ``EuclideanLoss`` (used by the authors for fine-tuning):
    :math:`\frac{1}{2N} \sum_i (\hat y_i - y_i)^2`."""
    return (pred - target).pow(2).sum() / (2 * max(pred.numel(), 1))


def regression_loss(
    pred: torch.Tensor, target: torch.Tensor, kind: str = "euclidean", beta: float = 1.0
) -> torch.Tensor:
    """``euclidean`` (½·MSE, the paper), ``l1`` (mean absolute error) or ``smooth_l1``
    (Huber-like with transition ``beta``).

    Examples
    --------
    >>> pred, target = torch.tensor([50.0, 70.0]), torch.tensor([52.0, 64.0])
    >>> regression_loss(pred, target, "euclidean"), regression_loss(pred, target, "l1")
    (tensor(10.), tensor(4.))
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if kind == "euclidean":
        return euclidean_loss(pred, target)
    if kind == "l1":
        return F.l1_loss(pred, target)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(pred, target, beta=beta)
    raise ValueError(f"loss must be one of {REGRESSION_LOSSES}, got {kind!r}")


class RegressionLoss(nn.Module):
    """Module form of :func:`regression_loss`."""

    def __init__(self, kind: str = "euclidean", beta: float = 1.0):
        super().__init__()
        if kind not in REGRESSION_LOSSES:
            raise ValueError(f"loss must be one of {REGRESSION_LOSSES}, got {kind!r}")
        self.kind = kind
        self.beta = beta

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return regression_loss(pred, target, self.kind, self.beta)
