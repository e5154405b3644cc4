"""Checkpoints of training runs: the state dict of a ``train-rank`` / ``finetune`` run.

Reading and writing the files lives in :mod:`rankiqa.core.checkpoint`; rebuilding their
networks in :mod:`rankiqa.models.loading`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["model_state", "training_state", "unwrap_model"]


def unwrap_model(model: nn.Module) -> nn.Module:
    """The bare module inside a ``DistributedDataParallel`` / ``DataParallel`` wrapper."""
    return getattr(model, "module", model)


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the (unwrapped) model's state dict."""
    return {k: v.detach().cpu().clone() for k, v in unwrap_model(model).state_dict().items()}


def training_state(
    kind: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    step: int,
    args: Mapping[str, Any],
    metrics: Mapping[str, float],
    best: Mapping[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """The checkpoint dictionary of a ``train-rank`` / ``finetune`` run (docs/contracts.md contract 2)."""
    return {
        "kind": kind,
        "model_config": unwrap_model(model).config,
        "model": model_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "args": dict(args),
        "metrics": dict(metrics),
        "best": dict(best),
        **extra,
    }
