"""Training checkpoint files: one ``torch.save`` dict per file, written atomically, read without
unpickling arbitrary objects (``torch.load(..., weights_only=True)``).

Layout (docs/contracts.md contract 2, shared by ``train-rank`` and ``finetune``)::

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

from rankiqa.core.errors import UserError
from rankiqa.core.files import atomic_path

FORMAT = "rankiqa-checkpoint"
VERSION = 1
KINDS = ("rank", "finetune", "head", "top")

__all__ = ["FORMAT", "KINDS", "VERSION", "load_checkpoint", "save_checkpoint", "strip_prefix"]


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file + rename) and return the path.

    ``format`` and ``version`` are filled in, ``score`` defaults to the identity mapping.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "checkpoint.pt"
    >>> _ = save_checkpoint(path, {"kind": "rank", "model_config": {}, "model": {}})
    >>> load_checkpoint(path)["format"]
    'rankiqa-checkpoint'
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


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    UserError
        The file is missing, unreadable, or not a rankiqa checkpoint.
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


def strip_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove a ``module.`` prefix left by a ``DistributedDataParallel``-wrapped model.

    Examples
    --------
    >>> sorted(strip_prefix({"module.fc.weight": 1, "module.fc.bias": 2}))
    ['fc.bias', 'fc.weight']
    """
    if state and all(k.startswith("module.") for k in state):
        return {k.removeprefix("module."): v for k, v in state.items()}
    return dict(state)
