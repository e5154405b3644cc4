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
#: the names users know those modules by, where they differ
_PACKAGE_NAMES = {"torch": "PyTorch", "scipy": "SciPy", "cv2": "OpenCV"}


class TorchMissing(UserError, ImportError):
    """Something that needs PyTorch was asked for on an install without it (the light install).

    An :class:`ImportError` for Python callers and a :class:`UserError` (one line, exit 2) for
    the command line; the message names the ``torch`` extra.

    >>> raise TorchMissing("model.with_protocol()")
    Traceback (most recent call last):
    ...
    rankiqa.core.errors.TorchMissing: model.with_protocol() needs PyTorch: pip install 'rankiqa[torch]'
    """

    def __init__(self, what: str, module: str = "torch"):
        needs = _PACKAGE_NAMES.get(module, module)
        if module != "torch":
            needs += " (in the torch extra)"
        super().__init__(f"{what} needs {needs}: {TORCH_EXTRA}")


def torch_missing(exc: ModuleNotFoundError, what: str) -> TorchMissing | None:
    """A :class:`TorchMissing` for ``what`` when ``exc`` is a module of the torch extra missing
    (``None`` for any other missing module); it names the module when that is not torch.

    >>> print(torch_missing(ModuleNotFoundError(name="scipy.stats"), "rankiqa compare"))
    rankiqa compare needs SciPy (in the torch extra): pip install 'rankiqa[torch]'
    >>> torch_missing(ModuleNotFoundError(name="yaml"), "rankiqa compare") is None
    True
    """
    name = (exc.name or "").partition(".")[0]
    return TorchMissing(what, name) if name in TORCH_EXTRA_MODULES else None
