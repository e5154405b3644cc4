"""Where model files and their graphs are: the packaged folder, names to files, shipped graphs."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import resources
from pathlib import Path

from rankiqa.core.errors import UserError

MODEL_SUFFIX = ".safetensors"
CHECKPOINT_SUFFIXES = (".pt", ".pth")
#: suffix of a model file's ONNX graph, shipped beside it (``default.onnx``)
GRAPH_SUFFIX = ".onnx"
DEFAULT_MODEL_NAME = "default"


def packaged_models_dir() -> Path:
    """The folder of models shipped inside the package (``rankiqa/weights``)."""
    return Path(str(resources.files("rankiqa.weights")))


def packaged_model_names() -> list[str]:
    """Names of the packaged models (``rankiqa.list_models()``)."""
    return sorted(p.stem for p in packaged_models_dir().glob(f"*{MODEL_SUFFIX}"))


def resolve_model_path(name_or_path: str | os.PathLike | None = None) -> Path:
    """The file behind a model name (packaged) or path; :class:`UserError` if there is none."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL_NAME
    path = Path(name_or_path)
    if path.exists():
        if path.is_dir():
            raise UserError(f"{path}: is a directory, not a model file")
        return path
    text = str(name_or_path)
    if os.sep not in text and "/" not in text:
        stem = text.removesuffix(MODEL_SUFFIX)
        packaged = packaged_models_dir() / f"{stem}{MODEL_SUFFIX}"
        if packaged.is_file():
            return packaged
        available = ", ".join(packaged_model_names()) or "none"
        if stem == DEFAULT_MODEL_NAME:
            raise UserError(
                f"no default model is installed ({packaged} is missing); pass --model with a "
                f"model file or checkpoint (packaged models: {available})"
            )
        if path.suffix not in (MODEL_SUFFIX, *CHECKPOINT_SUFFIXES):
            raise UserError(
                f"model {text!r} not found: neither a file nor a packaged model "
                f"(packaged models: {available})"
            )
    raise UserError(f"{path}: model file not found")


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex): what a shipped graph records about its model file.

    Remembered per (path, size, modification time), so checking the fp32 and the int8 graph
    of one model hashes its weights once."""
    stat = os.stat(path)
    return _digest(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: ONNX metadata key of the SHA-256 of the model file a graph was exported from
SOURCE_DIGEST_KEY = "rankiqa_source_sha256"


def graph_of(model_path: str | os.PathLike) -> Path | None:
    """The ONNX graph shipped beside a model file (``NAME.onnx`` next to ``NAME.safetensors``),
    or ``None`` when there is none or it was exported from other weights (stale).

    The graph records the SHA-256 of its model file in its metadata
    (:data:`SOURCE_DIGEST_KEY`); reading it needs only the ``onnx`` protobuf header, which
    :func:`graph_source_digest` parses without onnx.
    """
    model_path = Path(model_path)
    graph = model_path.with_suffix(GRAPH_SUFFIX)
    if model_path.suffix != MODEL_SUFFIX or not graph.is_file():
        return None
    recorded = graph_source_digest(graph)
    return graph if recorded == file_digest(model_path) else None


def graph_source_digest(graph: str | os.PathLike) -> str | None:
    """The model-file digest recorded in an ONNX graph's metadata (``None`` if absent).

    Exported graphs also carry it in a small JSON side file ``NAME.onnx.json`` written with
    the graph, so reading it costs no protobuf parsing.
    """
    side = Path(f"{graph}.json")
    try:
        return json.loads(side.read_text(encoding="utf-8")).get(SOURCE_DIGEST_KEY)
    except (OSError, ValueError, AttributeError):
        return None


#: suffix of a model file's int8 graph (``default.int8.onnx``), see
#: :mod:`rankiqa.inference.export.quantize`
INT8_GRAPH_SUFFIX = ".int8.onnx"
#: key of the int8 side file holding the fp32-vs-int8 check's numbers
INT8_CHECK_KEY = "check"


def int8_graph_of(model_path: str | os.PathLike) -> tuple[Path | None, dict]:
    """(the int8 graph shipped beside a model file, its side file) or ``(None, {})`` when
    there is none or it was made from other weights. The side file's ``accepted`` says
    whether the int8 graph passed the accuracy check (``precision="auto"`` uses it then)."""
    model_path = Path(model_path)
    graph = model_path.with_suffix(INT8_GRAPH_SUFFIX)
    if model_path.suffix != MODEL_SUFFIX or not graph.is_file():
        return None, {}
    try:
        side = json.loads(Path(f"{graph}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, {}
    if not isinstance(side, dict) or side.get(SOURCE_DIGEST_KEY) != file_digest(model_path):
        return None, {}
    return graph, side
