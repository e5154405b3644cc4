"""Regression losses for fine-tuning on mean opinion scores: the one registry of them.

``finetune --loss NAME`` looks ``NAME`` up in :data:`REGRESSION_LOSSES`; adding a loss is
adding an entry there.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from rankiqa.core.errors import UserError

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def euclidean_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Caffe's ``EuclideanLoss`` (used by the authors for fine-tuning):
    :math:`\frac{1}{2N} \sum_i (\hat y_i - y_i)^2`."""
    return (pred - target).pow(2).sum() / (2 * max(pred.numel(), 1))


def smooth_l1_loss(pred: torch.Tensor, target: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Huber-like loss: quadratic below ``beta``, linear above."""
    return F.smooth_l1_loss(pred, target, beta=beta)


#: every regression loss by name (``finetune --loss``)
REGRESSION_LOSSES: dict[str, Loss] = {
    "euclidean": euclidean_loss,  # ½·MSE, the paper's
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "smoothl1": smooth_l1_loss,
}
#: other spellings accepted for the same losses
ALIASES = {"smooth_l1": "smoothl1"}


def get_regression_loss(kind: str) -> Loss:
    """The loss function called ``kind`` (a :class:`UserError` naming ``--loss`` otherwise).

    Examples
    --------
    >>> get_regression_loss("mse")(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]))
    tensor(5.)
    """
    name = ALIASES.get(kind, kind)
    if name not in REGRESSION_LOSSES:
        raise UserError(f"--loss: expected one of {', '.join(REGRESSION_LOSSES)}, got {kind!r}")
    return REGRESSION_LOSSES[name]


def regression_loss(
    pred: torch.Tensor, target: torch.Tensor, kind: str = "euclidean", beta: float = 1.0
) -> torch.Tensor:
    """A loss of :data:`REGRESSION_LOSSES`: ``euclidean`` (½·MSE, the paper), ``mse``, ``l1``
    (mean absolute error) or ``smoothl1`` / ``smooth_l1`` (Huber-like with transition ``beta``).

    Examples
    --------
    >>> pred, target = torch.tensor([50.0, 70.0]), torch.tensor([52.0, 64.0])
    >>> regression_loss(pred, target, "euclidean"), regression_loss(pred, target, "l1")
    (tensor(10.), tensor(4.))
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    try:
        fn = get_regression_loss(kind)
    except UserError:
        raise ValueError(f"loss must be one of {tuple(REGRESSION_LOSSES)}, got {kind!r}") from None
    if fn is smooth_l1_loss:
        return smooth_l1_loss(pred, target, beta)
    return fn(pred, target)


class RegressionLoss(nn.Module):
    """Module form of :func:`regression_loss`."""

    def __init__(self, kind: str = "euclidean", beta: float = 1.0):
        super().__init__()
        if ALIASES.get(kind, kind) not in REGRESSION_LOSSES:
            raise ValueError(f"loss must be one of {tuple(REGRESSION_LOSSES)}, got {kind!r}")
        self.kind = kind
        self.beta = beta

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return regression_loss(pred, target, self.kind, self.beta)
