"""Conversions: training checkpoint -> rankiqa model file, model -> ONNX."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch

from rankiqa.core.errors import UserError
from rankiqa.core.model_file import DEFAULT_SCORE, build_metadata, save_model_file
from rankiqa.core.preprocess import InputProtocol
from rankiqa.inference.model import IQAModel
from rankiqa.models.head_specs import head_spec

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
    """Model-file metadata for a training checkpoint (docs/contracts.md contract 2 -> contract 5).

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


def model_from_checkpoint(path: str | os.PathLike, **metadata_options: Any) -> IQAModel:
    """An :class:`IQAModel` from a ``train-rank`` / ``finetune`` checkpoint (never unpickles)."""
    from rankiqa.core.checkpoint import load_checkpoint
    from rankiqa.models.loading import quality_net_from_state

    path = Path(path)
    checkpoint = load_checkpoint(path)
    metadata_options.setdefault("name", path.stem)
    metadata = checkpoint_metadata(checkpoint, **metadata_options)
    return IQAModel(quality_net_from_state(checkpoint, path), metadata).eval()


def save_model(model: IQAModel, path: str | os.PathLike) -> Path:
    """Write an :class:`IQAModel` (weights + metadata) as a rankiqa model file."""
    metadata = dict(model.metadata)
    metadata["model_config"] = dict(model.net.config)
    metadata["input"] = model.protocol.to_dict()
    return save_model_file(path, model.net.state_dict(), metadata)


def with_metadata(
    model: IQAModel,
    input: dict[str, Any] | None = None,
    name: str | None = None,
    licence: str | None = None,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> IQAModel:
    """Update ``model``'s input protocol and metadata in place (and return it).

    ``input`` holds the protocol fields to change (``resize``, ``test_crops``, ``crop_size``);
    ``metrics`` and ``training`` are merged into the existing entries.

    Examples
    --------
    >>> model = untrained_model("shallow", input={"crop_size": 192})
    >>> model = with_metadata(model, input={"resize": 256, "test_crops": "center"},
    ...                       name="mine", metrics={"srocc": 0.8})
    >>> model.protocol
    InputProtocol(resize=256, test_crops='center', crop_size=192)
    >>> model.metadata["name"], model.metadata["metrics"]
    ('mine', {'srocc': 0.8})
    """
    protocol = model.protocol.to_dict()
    protocol.update(input or {})
    model.protocol = InputProtocol.from_dict(protocol)
    metadata = model.metadata
    metadata["input"] = model.protocol.to_dict()
    if name:
        metadata["name"] = name
    if licence:
        metadata["licence"] = licence
    metadata["metrics"] = {**(metadata.get("metrics") or {}), **(metrics or {})}
    metadata["training"] = {**(metadata.get("training") or {}), **(training or {})}
    return model


def export_model(
    source: IQAModel | str | os.PathLike | None,
    out: str | os.PathLike,
    format: str | None = None,
    opset: int = 17,
    dynamic_size: bool | None = None,
    preprocessing: bool = False,
    **metadata: Any,
) -> Path:
    """Write a model (or checkpoint / model file / packaged name) as a rankiqa model file or ONNX.

    ``format`` is ``rankiqa`` or ``onnx`` (default: from ``out``'s suffix); ``preprocessing``
    puts the input protocol into the ONNX graph (:func:`export_onnx`); ``metadata`` goes to
    :func:`with_metadata` (``input``, ``name``, ``licence``, ``metrics``, ``training``).
    """
    from rankiqa.inference.api import load_model

    out = Path(out)
    fmt = format or {".onnx": "onnx", ".safetensors": "rankiqa"}.get(out.suffix.lower())
    if fmt not in ("onnx", "rankiqa"):
        raise UserError(f"{out}: cannot tell the format from the suffix; pass --format")
    model = source if isinstance(source, IQAModel) else load_model(source)
    model = with_metadata(model, **metadata)
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise UserError(
                "ONNX export needs the onnx package, a dependency of rankiqa: reinstall it "
                "(pip install --force-reinstall rankiqa) or pip install onnx"
            ) from None
        return export_onnx(
            model, out, opset=opset, dynamic_size=dynamic_size, preprocessing=preprocessing
        )
    return save_model(model, out)


def export_checkpoint(
    checkpoint_path: str | os.PathLike, out: str | os.PathLike, **metadata_options: Any
) -> Path:
    """Convert a training checkpoint into a rankiqa model file at ``out``."""
    return save_model(model_from_checkpoint(checkpoint_path, **metadata_options), out)


def supports_dynamic_size(model: IQAModel) -> bool:
    """Whether the network accepts any image size in ONNX (its head pools globally)."""
    return head_spec(model.net.config["head"]).any_size


def export_onnx(
    model: IQAModel,
    out: str | os.PathLike,
    opset: int = 17,
    dynamic_size: bool | None = None,
    height: int | None = None,
    width: int | None = None,
    preprocessing: bool = False,
) -> Path:
    """Export ``model.forward`` (scores on the 0–100 scale) to ONNX.

    Input ``image``: float32 N×3×H×W RGB in [0, 1] (prepared with the model's input protocol);
    output ``score``: N. The batch axis is always dynamic; H and W are dynamic when the head
    allows it (``compact``), otherwise fixed to the crop size. Uses the TorchScript-based
    exporter (``dynamo=False``), which needs only the ``onnx`` package.

    With ``preprocessing=True`` the graph also holds the input protocol
    (:mod:`rankiqa.inference.onnx_protocol`, opset ≥ 18): input ``image`` is one decoded
    uint8 H×W×3 RGB image of any size, output ``score`` (1,) its score, as ``model.score``.
    """
    out = Path(out)
    if preprocessing:
        from rankiqa.inference.onnx_protocol import OPSET, protocol_graph

        protocol_graph(model.protocol)  # refuse random crops before exporting anything
        opset = max(opset, OPSET)
    if dynamic_size is None:
        dynamic_size = supports_dynamic_size(model)
    elif dynamic_size and not supports_dynamic_size(model):
        raise UserError("this model's head needs a fixed input size; export without dynamic size")
    size = int(model.protocol.crop_size)
    example = torch.rand(1, 3, height or size, width or size)
    axes = {0: "batch"}
    if dynamic_size:
        axes.update({2: "height", 3: "width"})
    model = model.eval()
    from rankiqa.core.files import atomic_path

    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(tmp),
            input_names=["image"],
            output_names=["score"],
            dynamic_axes={"image": axes, "score": {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
        import onnx

        from rankiqa.inference.onnx_passes import fold_pads_into_convs

        graph = onnx.load(str(tmp))
        fold_pads_into_convs(graph)  # TF "SAME" pads (EfficientNet-Lite): 1.25x faster
        if preprocessing:
            from rankiqa.inference.onnx_protocol import with_preprocessing

            graph = with_preprocessing(graph, model.protocol)
        tmp.write_bytes(graph.SerializeToString())
    _attach_onnx_metadata(out, model)
    return out


def _attach_onnx_metadata(path: Path, model: IQAModel) -> None:
    """Store the rankiqa metadata JSON in the ONNX model's metadata_props (key ``rankiqa``)."""
    import json

    import onnx

    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key = "rankiqa"
    entry.value = json.dumps(model.metadata, sort_keys=True)
    from rankiqa.core.files import write_bytes_atomic

    write_bytes_atomic(path, proto.SerializeToString())


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
    from rankiqa.models import build_model

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
