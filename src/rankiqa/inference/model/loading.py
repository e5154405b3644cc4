"""Quality models from files: packaged names, model files, training checkpoints, random init.

Loading never exports and never attaches a runtime: :func:`rankiqa.load_model`
(:mod:`rankiqa.inference.scoring.api`) does that where scoring starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from rankiqa.core.checkpoint import load_checkpoint
from rankiqa.core.errors import UserError
from rankiqa.core.model_file import DEFAULT_SCORE, build_metadata, read_model_file
from rankiqa.inference.model.iqa_model import IQAModel
from rankiqa.inference.model.paths import CHECKPOINT_SUFFIXES, resolve_model_path
from rankiqa.models import build_model, model_from_config
from rankiqa.models.head_specs import head_spec
from rankiqa.models.loading import quality_net_from_state


def read_model(name_or_path: str | os.PathLike | None = None, device: str | None = None) -> IQAModel:
    """The :class:`IQAModel` of a packaged name, model file or checkpoint, in eval mode, run by
    PyTorch (see :func:`rankiqa.load_model` for the faster runtime)."""
    path = resolve_model_path(name_or_path)
    if path.suffix in CHECKPOINT_SUFFIXES:
        model = model_from_checkpoint(path)
    else:
        model = load_model_file(path)
    if device is not None:
        model = model.to(device)
    return model.eval()


def torch_model(source: Any = None, device: str | None = None) -> IQAModel:
    """The PyTorch model of ``source``: an :class:`IQAModel` itself, or what
    :func:`read_model` loads from a name or path (for what needs the network: evaluation,
    export, training). Another scorer (the ONNX Runtime model) is refused in one line."""
    if source is None or isinstance(source, (str, os.PathLike)):
        return read_model(source, device)
    if not isinstance(source, IQAModel):
        raise UserError(
            f"this needs the PyTorch model, not {type(source).__name__}: load it with "
            "rankiqa.load_model(..., runtime='torch')"
        )
    return source if device is None else source.to(device)


def load_model_file(path: str | os.PathLike) -> IQAModel:
    """An :class:`IQAModel` from a rankiqa ``.safetensors`` model file."""
    state, metadata = read_model_file(path)
    try:
        net = model_from_config(metadata["model_config"])
        net.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError) as exc:
        raise UserError(f"{path}: weights do not match the model_config ({exc})") from None
    metadata = dict(metadata)
    metadata.setdefault("name", None)
    metadata["name"] = metadata["name"] or Path(path).stem
    return IQAModel(net.eval(), metadata).eval()


def model_from_checkpoint(path: str | os.PathLike, **metadata_options: Any) -> IQAModel:
    """An :class:`IQAModel` from a ``train-rank`` / ``finetune`` checkpoint (never unpickles)."""
    path = Path(path)
    checkpoint = load_checkpoint(path)
    metadata_options.setdefault("name", path.stem)
    metadata = checkpoint_metadata(checkpoint, **metadata_options)
    return IQAModel(quality_net_from_state(checkpoint, path), metadata).eval()


#: training-argument names that may carry the input protocol in a checkpoint's ``args``
_INPUT_ARG_KEYS = {"resize": "resize", "test_crops": "test_crops", "crop_size": "crop_size"}


def checkpoint_metadata(
    checkpoint: dict[str, Any],
    resize: int | None | str = "auto",
    test_crops: str | None = None,
    crop_size: int | None = None,
    name: str | None = None,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    score: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Model-file metadata for a training checkpoint (contract 2 -> contract 5).

    The input protocol comes from the arguments given here, else the checkpoint's ``input``
    entry or its training ``args`` (``resize``, ``test_crops``, ``crop_size``), else the
    defaults: native resolution, the head's default view (:attr:`HeadSpec.default_view`),
    crop size = the network's input size. ``resize="auto"`` means "not given".
    """
    config = dict(checkpoint["model_config"])
    args = dict(checkpoint.get("args") or {})
    stored = dict(checkpoint.get("input") or {})
    for key, arg in _INPUT_ARG_KEYS.items():
        if key not in stored and arg in args:
            stored[key] = args[arg]
    protocol = {
        "resize": stored.get("resize"),
        "test_crops": stored.get("test_crops") or head_spec(config["head"]).default_view,
        "crop_size": stored.get("crop_size") or config.get("input_size", 224),
    }
    if resize != "auto":
        protocol["resize"] = resize
    if test_crops is not None:
        protocol["test_crops"] = test_crops
    if crop_size is not None:
        protocol["crop_size"] = crop_size
    score_meta = dict(DEFAULT_SCORE)
    score_meta.update(checkpoint.get("score") or {})
    if checkpoint.get("kind") == "rank":
        score_meta["range"] = None  # ranking-only networks have an arbitrary scale
    score_meta.update(score or {})
    training_meta = {
        "kind": checkpoint.get("kind"),
        "step": checkpoint.get("step"),
        "args": _jsonable(args),
    }
    training_meta.update(training or {})
    all_metrics = _jsonable(dict(checkpoint.get("metrics") or {}))
    all_metrics.update(metrics or {})
    return build_metadata(config, protocol, score_meta, training_meta, all_metrics, name=name)


def _jsonable(value: Any) -> Any:
    """Checkpoint values as JSON types (tensors become lists / numbers, others strings)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist() if value.numel() < 64 else f"<tensor {tuple(value.shape)}>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def untrained_model(
    backbone: str = "alexnet",
    head: str = "compact",
    input: dict[str, Any] | None = None,
    score: dict[str, Any] | None = None,
    seed: int = 0,
    name: str = "untrained",
) -> IQAModel:
    """A randomly initialised :class:`IQAModel` (for tests, timing and ONNX smoke checks).

    Its scores are meaningless; ``metadata["training"]`` says so.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_model(backbone, head)
    protocol = {"resize": None, "test_crops": "full", "crop_size": net.input_size}
    protocol.update(input or {})
    net.config["input_size"] = int(protocol["crop_size"])
    metadata = build_metadata(
        net.config,
        protocol,
        score,
        training={"recipe": f"untrained (random weights, seed {seed})"},
        name=name,
    )
    return IQAModel(net.eval(), metadata).eval()
