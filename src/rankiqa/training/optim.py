"""The optimiser and learning-rate schedule of ``train-rank`` and ``finetune``, and the check
that stops a run whose loss diverged.

>>> check_finite(float("nan"), 12)
Traceback (most recent call last):
...
rankiqa.training.optim.NonFiniteLossError: loss is nan at iteration 12: training diverged; ...
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rankiqa.core.errors import UserError
from rankiqa.training.checkpoint import unwrap_model
from rankiqa.training.options import OPTIMIZERS

__all__ = [
    "NonFiniteLossError",
    "build_optimizer",
    "build_scheduler",
    "check_finite",
]


def build_optimizer(
    model: nn.Module,
    name: str = "sgd",
    lr: float = 1e-4,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    head_lr_mult: float = 10.0,
) -> torch.optim.Optimizer:
    """SGD (with momentum, as in the paper) or Adam over the model's parameter groups
    (backbone at ``lr``, head at ``lr * head_lr_mult``)."""
    groups = unwrap_model(model).parameter_groups(lr, head_lr_mult, weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    raise UserError(f"--optimizer: unknown optimizer {name!r}; choose {' or '.join(OPTIMIZERS)}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, step_size: int, gamma: float = 0.1
) -> torch.optim.lr_scheduler.StepLR:
    """Multiply every learning rate by ``gamma`` each ``step_size`` iterations (call
    ``scheduler.step()`` once per iteration)."""
    if step_size <= 0:
        raise UserError(f"--lr-step must be positive, got {step_size}")
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


class NonFiniteLossError(UserError):
    """The loss became NaN or infinite: training diverged."""


def check_finite(loss: torch.Tensor | float, step: int) -> None:
    """Stop with a clear message when the loss is NaN or infinite."""
    value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"loss is {value} at iteration {step}: training diverged; lower --lr, check the "
            "data, or resume from the last checkpoint with a smaller learning rate"
        )
