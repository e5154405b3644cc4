"""The one exception type for user errors (bad file, bad option); the CLI prints it as one line."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: missing/malformed file, unreadable image, bad option.

    The CLI prints ``rankiqa: error: <message>`` and exits with status 2, without a traceback.
    The message must name the file (and line) or option at fault.
    """


#: how to get what needs PyTorch (training, export, ``model(x)``, checkpoints)
TORCH_EXTRA = "pip install 'rankiqa[torch]'"
#: top-level modules that only the ``torch`` extra installs
TORCH_EXTRA_MODULES = frozenset(
    {"torch", "torchvision", "scipy", "cv2", "safetensors", "tqdm", "onnx"}
)


class TorchMissing(UserError, ImportError):
    """Something that needs PyTorch was asked for on an install without it (the light install).

    An :class:`ImportError` for Python callers and a :class:`UserError` (one line, exit 2) for
    the command line; the message names the ``torch`` extra.

    >>> raise TorchMissing("model.with_protocol()")
    Traceback (most recent call last):
    ...
    rankiqa.core.errors.TorchMissing: model.with_protocol() needs PyTorch: pip install 'rankiqa[torch]'
    """

    def __init__(self, what: str):
        super().__init__(f"{what} needs PyTorch: {TORCH_EXTRA}")


def torch_missing(exc: ModuleNotFoundError, what: str) -> TorchMissing | None:
    """A :class:`TorchMissing` for ``what`` when ``exc`` is a module of the torch extra missing
    (``None`` for any other missing module)."""
    name = (exc.name or "").partition(".")[0]
    return TorchMissing(what) if name in TORCH_EXTRA_MODULES else None
