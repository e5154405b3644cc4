"""Rebuild a :class:`~rankiqa.models.QualityNet` from a saved ``model_config`` and state dict."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from rankiqa.core.checkpoint import load_checkpoint, strip_prefix
from rankiqa.core.errors import UserError
from rankiqa.models.quality import QualityNet, model_from_config

__all__ = ["load_quality_net", "quality_net_from_state"]


def quality_net_from_state(state: Mapping[str, Any], path: str | os.PathLike) -> QualityNet:
    """The :class:`QualityNet` of a loaded checkpoint ``state``, in eval mode.

    ``path`` names the file in errors; a ``module.`` prefix (DDP) is removed.
    """
    try:
        net = model_from_config(state["model_config"])
        net.load_state_dict(strip_prefix(state["model"]))
    except (KeyError, RuntimeError, TypeError, UserError) as exc:
        raise UserError(
            f"{path}: checkpoint weights do not match its model_config ({exc})"
        ) from None
    return net.eval()


def load_quality_net(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> QualityNet:
    """Rebuild the :class:`QualityNet` of a checkpoint file, weights loaded, in eval mode.

    The checkpoint's ``score`` mapping is attached as ``net.score_mapping`` (a dict).
    """
    state = load_checkpoint(path, map_location=map_location)
    net = quality_net_from_state(state, path)
    net.score_mapping = dict(state.get("score", {"offset": 0.0, "scale": 1.0}))
    return net
