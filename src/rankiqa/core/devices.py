"""Device choice: ``--device`` names to :class:`torch.device`."""

from __future__ import annotations

import torch

from rankiqa.core.errors import UserError

__all__ = ["resolve_device"]


def resolve_device(name: str | None = None, local_rank: int = 0) -> torch.device:
    """``name`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) or CUDA if available, else CPU.

    Under ``torchrun`` a bare ``cuda`` means ``cuda:LOCAL_RANK``.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("warp-drive")
    Traceback (most recent call last):
    ...
    rankiqa.core.errors.UserError: --device: unknown device 'warp-drive'
    """
    if name in (None, "", "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device: unknown device {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is available")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device
