"""Checkpoints of training runs (written by :class:`rankiqa.training.trainer.Trainer`).

Reading and writing the files lives in :mod:`rankiqa.core.checkpoint`; rebuilding their
networks in :mod:`rankiqa.models.loading`.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["model_state", "unwrap_model"]


def unwrap_model(model: nn.Module) -> nn.Module:
    """The bare module inside a ``DistributedDataParallel`` / ``DataParallel`` wrapper."""
    return getattr(model, "module", model)


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the (unwrapped) model's state dict."""
    return {k: v.detach().cpu().clone() for k, v in unwrap_model(model).state_dict().items()}
