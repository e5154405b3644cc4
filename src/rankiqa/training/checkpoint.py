"""Training checkpoints: one ``torch.save`` dict per file, written atomically, read without
unpickling arbitrary objects (``torch.load(..., weights_only=True)``).

Layout (contract shared by ``train-rank`` and ``finetune``)::

    {"format": "rankiqa-checkpoint", "version": 1, "kind": "rank" | "finetune",
     "model_config": model.config, "model": state_dict, "optimizer": ..., "scheduler": ...,
     "step": int, "args": {...}, "metrics": {...}, "score": {"offset": 0.0, "scale": 1.0}, ...}

Only tensors, numbers, strings, lists, tuples, dicts and ``None`` may be stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rankiqa.errors import UserError
from rankiqa.imageio import atomic_path

FORMAT = "rankiqa-checkpoint"
VERSION = 1
KINDS = ("rank", "finetune")


def unwrap_model(model: nn.Module) -> nn.Module:
    """The bare module inside a ``DistributedDataParallel`` / ``DataParallel`` wrapper."""
    return getattr(model, "module", model)


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the (unwrapped) model's state dict."""
    return {k: v.detach().cpu().clone() for k, v in unwrap_model(model).state_dict().items()}


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file + rename) and return the path.

    ``format`` and ``version`` are filled in, ``score`` defaults to the identity mapping.
    """
    path = Path(path)
    payload = dict(state)
    payload.setdefault("format", FORMAT)
    payload.setdefault("version", VERSION)
    payload.setdefault("score", {"offset": 0.0, "scale": 1.0})
    if payload.get("kind") not in KINDS:
        raise ValueError(f"checkpoint kind must be one of {KINDS}, got {payload.get('kind')!r}")
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


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
    """The checkpoint dictionary of a ``train-rank`` / ``finetune`` run (contract 2)."""
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


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        UserError: the file is missing, unreadable, or not a rankiqa checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's fault
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path}: not a rankiqa checkpoint (missing format {FORMAT!r})")
    if int(state.get("version", 0)) > VERSION:
        raise UserError(
            f"{path}: checkpoint version {state.get('version')} is newer than this rankiqa "
            f"supports ({VERSION}); upgrade rankiqa"
        )
    for key in ("model_config", "model"):
        if key not in state:
            raise UserError(f"{path}: checkpoint has no {key!r} entry")
    return state


def _strip_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove a ``module.`` prefix left by a wrapped model."""
    if state and all(k.startswith("module.") for k in state):
        return {k.removeprefix("module."): v for k, v in state.items()}
    return dict(state)


def load_quality_net(path: str | os.PathLike, map_location: str | torch.device = "cpu"):
    """Rebuild the :class:`~rankiqa.models.QualityNet` of a checkpoint, weights loaded, in eval mode.

    The checkpoint's ``score`` mapping is attached as ``net.score_mapping`` (a dict).
    """
    state = load_checkpoint(path, map_location=map_location)
    net = quality_net_from_state(state, path)
    net.score_mapping = dict(state.get("score", {"offset": 0.0, "scale": 1.0}))
    return net


def quality_net_from_state(state: Mapping[str, Any], path: str | os.PathLike):
    """The :class:`~rankiqa.models.QualityNet` of a loaded checkpoint ``state``, in eval mode;
    ``path`` names the file in errors."""
    from rankiqa.models import model_from_config

    try:
        net = model_from_config(state["model_config"])
        net.load_state_dict(_strip_prefix(state["model"]))
    except (KeyError, RuntimeError, TypeError, UserError) as exc:
        raise UserError(
            f"{path}: checkpoint weights do not match its model_config ({exc})"
        ) from None
    return net.eval()


def rng_state() -> dict[str, Any]:
    """Global RNG states (torch CPU/CUDA, numpy, random) as checkpoint-safe values."""
    import random

    import numpy as np

    np_state = np.random.get_state()  # noqa: NPY002 - capture the legacy global RNG
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype("int64")),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore states captured by :func:`rng_state`."""
    import random

    import numpy as np

    torch.set_rng_state(state["torch"].cpu())
    npst = state["numpy"]
    np.random.set_state(  # noqa: NPY002 - restore the legacy global RNG
        (
            "MT19937",
            npst["keys"].numpy().astype("uint32"),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))
