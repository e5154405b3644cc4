"""The rankiqa model file: a safetensors state dict with JSON metadata in its header.

Layout (docs/contracts.md contract 5): the tensors of a :class:`~rankiqa.models.QualityNet` state dict, and under
the header metadata key ``rankiqa`` a JSON object::

    {"format": "rankiqa-model", "version": 1,
     "model_config": {...},                       # rebuilds the architecture
     "input": {"resize": 256, "test_crops": "center", "crop_size": 224},
     "score": {"offset": 0.0, "scale": 1.0, "range": [0, 100], "direction": "higher is better",
               "squash": "logistic"},                # optional, see scale_scores
     "training": {...}, "metrics": {...}, "rankiqa_version": "0.1.0", "name": "..."}

Reading never unpickles: a model file cannot run code when loaded. The metadata and, for
NumPy users, the tensors are read by this module itself (the format is an 8-byte header
length, a JSON header, raw little-endian data), so reading needs neither torch nor the
safetensors package; :func:`read_model_file` (torch tensors) uses ``safetensors.torch``.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.core.files import atomic_path
from rankiqa.core.protocol import InputProtocol

if TYPE_CHECKING:  # pragma: no cover
    import torch

METADATA_KEY = "rankiqa"
FORMAT = "rankiqa-model"
VERSION = 1
DEFAULT_SCORE = {"offset": 0.0, "scale": 1.0, "range": [0, 100], "direction": "higher is better"}
#: ``score.squash`` values: how the linear score ``offset + scale * net(x)`` becomes the output.
#: ``"logistic"`` bounds it to (0, 100) by construction: ``100 / (1 + exp(-(s - 50) / 25))``,
#: whose slope is 1 at 50 (mid-scale scores move little, the ends are compressed).
SQUASHES = (None, "logistic")
SQUASH_CENTER, SQUASH_WIDTH = 50.0, 25.0


def scale_scores(raw: Any, score: dict[str, Any]) -> Any:
    """Network outputs → scores under a model file's ``score`` object (differentiable).

    ``raw`` is a torch tensor (the result stays differentiable) or a NumPy array.

    Examples
    --------
    >>> import torch
    >>> raw = torch.tensor([-1e6, 0.0, 1e6])
    >>> scale_scores(raw, {"offset": 50.0, "scale": 1.0, "squash": "logistic"}).tolist()
    [0.0, 50.0, 100.0]
    >>> scale_scores(torch.tensor([2.0]), {"offset": 1.0, "scale": 3.0}).tolist()
    [7.0]
    """
    linear = raw * float(score.get("scale", 1.0)) + float(score.get("offset", 0.0))
    if score.get("squash") == "logistic":
        z = (linear - SQUASH_CENTER) / SQUASH_WIDTH
        if isinstance(z, np.ndarray | np.generic | float):
            with np.errstate(over="ignore"):
                return (100.0 / (1.0 + np.exp(-z))).astype(np.asarray(z).dtype)
        return 100.0 * z.sigmoid()
    return linear


def build_metadata(
    model_config: dict[str, Any],
    input: dict[str, Any],
    score: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    name: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Assemble and validate a model file's metadata dictionary."""
    from rankiqa.core.version import __version__

    full_score = dict(DEFAULT_SCORE)
    full_score.update(score or {})
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "model_config": dict(model_config),
        "input": InputProtocol.from_dict(input).to_dict(),
        "score": full_score,
        "training": dict(training or {}),
        "metrics": dict(metrics or {}),
        "rankiqa_version": __version__,
    }
    metadata.update(extra)
    json.dumps(metadata)  # fail early on anything not JSON-serialisable
    return metadata


def validate_metadata(metadata: Any, source: str) -> dict[str, Any]:
    """Check the contract-5 fields; raise :class:`UserError` naming ``source`` otherwise."""
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise UserError(f"{source}: not a rankiqa model file (metadata format is not {FORMAT!r})")
    if metadata.get("version") != VERSION:
        raise UserError(
            f"{source}: unsupported model file version {metadata.get('version')!r} "
            f"(this rankiqa reads version {VERSION})"
        )
    for key in ("model_config", "input", "score"):
        if not isinstance(metadata.get(key), dict):
            raise UserError(f"{source}: model file metadata lacks the {key!r} object")
    config = metadata["model_config"]
    for key in ("backbone", "head"):
        if key not in config:
            raise UserError(f"{source}: model_config lacks {key!r}")
    score = metadata["score"]
    for key in ("offset", "scale"):
        if not isinstance(score.get(key), (int, float)):
            raise UserError(f"{source}: score.{key} must be a number")
    if score.get("squash") not in SQUASHES:
        raise UserError(f"{source}: score.squash must be one of {SQUASHES}, got {score['squash']!r}")

    try:
        InputProtocol.from_dict(metadata["input"])
    except (TypeError, ValueError) as exc:
        raise UserError(f"{source}: invalid input protocol ({exc})") from None
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from None
    return metadata


def save_model_file(
    path: str | os.PathLike, state_dict: dict[str, torch.Tensor], metadata: dict[str, Any],
    half: bool = False,
) -> Path:
    """Write ``state_dict`` and ``metadata`` atomically as a rankiqa model file.

    ``half``: store the convolution and linear weights (floating tensors of two or more
    dimensions) as float16, half the file; biases, batch-norm parameters and statistics stay
    float32. Loading casts them back: the network computes in float32 on rounded weights.
    """
    from safetensors.torch import save_file

    path = Path(path)
    validate_metadata(metadata, str(path))
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    if half:
        tensors = {k: v.half() if v.is_floating_point() and v.dim() >= 2 else v
                   for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The validated metadata of a model file, without loading its tensors (no torch)."""
    path = Path(path)
    header = read_header(path)
    return _metadata_of(path, header.get("__metadata__") or {})


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a safetensors file: tensor entries and ``__metadata__``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > min(100_000_000, path.stat().st_size - 8):
                raise ValueError("header length beyond the end of the file")
            header = json.loads(handle.read(length))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a valid safetensors model file ({exc})") from None
    return header


#: safetensors dtype names → NumPy dtypes (little-endian)
_NUMPY_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
    "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}  # fmt: skip


def read_numpy_tensors(
    path: str | os.PathLike, prefix: str = ""
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors whose names start with ``prefix``, metadata) of a model file, as NumPy arrays.

    No torch and no safetensors package: the scoring path without torch reads the head's
    weights this way (bf16 tensors are converted to float32).
    """
    path = Path(path)
    header = read_header(path)
    metadata = _metadata_of(path, header.get("__metadata__") or {})
    data = path.read_bytes()
    start = 8 + struct.unpack("<Q", data[:8])[0]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or not name.startswith(prefix):
            continue
        begin, end = (start + int(o) for o in entry["data_offsets"])
        raw = data[begin:end]
        if entry["dtype"] == "BF16":
            wide = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
            array = wide.view(np.float32)
        elif entry["dtype"] in _NUMPY_DTYPES:
            array = np.frombuffer(raw, _NUMPY_DTYPES[entry["dtype"]])
        else:
            raise UserError(f"{path}: tensor {name}: unsupported dtype {entry['dtype']}")
        tensors[name] = array.reshape(entry["shape"]).copy()
    return tensors, metadata


def read_model_file(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, metadata) of a model file. Never unpickles; UserError on a bad file."""
    from safetensors import safe_open

    path = Path(path)
    metadata = read_metadata(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            state = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # noqa: BLE001 - any parsing failure is the file's fault
        raise UserError(f"{path}: not a valid safetensors model file ({exc})") from None
    return state, metadata


def _metadata_of(path: Path, header: dict[str, Any]) -> dict[str, Any]:
    if METADATA_KEY not in header:
        raise UserError(f"{path}: safetensors file without rankiqa metadata (not a model file)")
    try:
        metadata = json.loads(header[METADATA_KEY])
    except (json.JSONDecodeError, TypeError) as exc:
        raise UserError(f"{path}: malformed rankiqa metadata JSON ({exc})") from None
    return validate_metadata(metadata, str(path))
