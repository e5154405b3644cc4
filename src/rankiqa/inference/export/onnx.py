"""Export: a quality model as an ONNX graph (scores, and the feature maps quality maps need)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch

from rankiqa.core.errors import UserError
from rankiqa.core.files import atomic_path, write_bytes_atomic
from rankiqa.core.model_file import scale_scores
from rankiqa.inference.export.passes import fold_pads_into_convs
from rankiqa.inference.export.protocol import OPSET, protocol_graph, with_preprocessing
from rankiqa.inference.model.iqa_model import IQAModel
from rankiqa.inference.model.loading import torch_model
from rankiqa.inference.model.saving import save_model, with_metadata
from rankiqa.models.backbones import BACKBONES
from rankiqa.models.head_specs import head_spec
from rankiqa.models.networks import feature_taps


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
    out = Path(out)
    fmt = format or {".onnx": "onnx", ".safetensors": "rankiqa"}.get(out.suffix.lower())
    if fmt not in ("onnx", "rankiqa"):
        raise UserError(f"{out}: cannot tell the format from the suffix; pass --format")
    model = torch_model(source)
    model = with_metadata(model, **metadata)
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise UserError(
                "ONNX export needs the onnx package: pip install 'rankiqa[torch]'"
            ) from None
        return export_onnx(
            model, out, opset=opset, dynamic_size=dynamic_size, preprocessing=preprocessing
        )
    return save_model(model, out)


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
    feature_maps: bool = False,
    extra_metadata: dict[str, str] | None = None,
) -> Path:
    """Export ``model.forward`` (scores on the 0–100 scale) to ONNX.

    Input ``image``: float32 N×3×H×W RGB in [0, 1] (prepared with the model's input protocol);
    output ``score``: N. The batch axis is always dynamic; H and W are dynamic when the head
    allows it (``compact``), otherwise fixed to the crop size. Uses the TorchScript-based
    exporter (``dynamo=False``), which needs only the ``onnx`` package.

    With ``preprocessing=True`` the graph also holds the input protocol
    (:mod:`rankiqa.inference.export.protocol`, opset ≥ 18): input ``image`` is one decoded
    uint8 H×W×3 RGB image of any size, output ``score`` (1,) its score, as ``model.score``.

    With ``feature_maps=True`` (the graphs shipped with packaged models) the graph has more
    outputs ``features_0``, ``features_1``, ...: the N×C×h×w maps the head pools (the tapped
    stages of a ``stats`` head, the last map of a ``compact`` head), from which quality maps
    are computed without torch (:mod:`rankiqa.inference.scoring.onnx_model`). They cost no
    extra computation. ``extra_metadata`` is stored in the graph's metadata properties.
    """
    out = Path(out)
    if feature_maps and (preprocessing or not supports_dynamic_size(model)):
        raise UserError("feature-map outputs need a size-agnostic head and no preprocessing")
    if preprocessing:
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
    module: torch.nn.Module = model
    outputs = ["score"]
    dynamic = {"image": axes, "score": {0: "batch"}}
    if feature_maps:
        module = ScoreAndFeatures(model).eval()
        with torch.inference_mode():
            count = len(module(example)) - 1
        for index in range(count):
            outputs.append(f"features_{index}")
            dynamic[outputs[-1]] = {0: "batch", 2: f"height_{index}", 3: f"width_{index}"}
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(tmp),
            input_names=["image"],
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=opset,
            dynamo=False,
        )
        import onnx

        graph = onnx.load(str(tmp))
        fold_pads_into_convs(graph)  # TF "SAME" pads (EfficientNet-Lite): 1.25x faster
        if preprocessing:
            graph = with_preprocessing(graph, model.protocol)
        tmp.write_bytes(graph.SerializeToString())
    _attach_onnx_metadata(out, model, extra_metadata)
    return out


class ScoreAndFeatures(torch.nn.Module):
    """``model``'s score and the feature maps its head pools, from one backbone pass.

    The score is computed exactly as :meth:`IQAModel.forward` computes it.
    """

    def __init__(self, model: IQAModel):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        net = self.model.net
        normed = (x - net.mean) / net.std
        if getattr(net.head, "multi_level", False):
            taps = tuple(BACKBONES[net.config["backbone"]].taps)
            features = feature_taps(net.backbone, normed, taps)
            raw = net.head(features)
        else:
            features = [net.backbone(normed)]
            raw = net.head(features[0])
        return (scale_scores(raw, self.model.score_meta), *features)


def _attach_onnx_metadata(
    path: Path, model: IQAModel, extra: dict[str, str] | None = None
) -> None:
    """Store the rankiqa metadata JSON in the ONNX model's metadata_props (key ``rankiqa``)."""
    import json

    import onnx

    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key = "rankiqa"
    entry.value = json.dumps(model.metadata, sort_keys=True)
    for key, value in (extra or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    write_bytes_atomic(path, proto.SerializeToString())


