"""Ensembles of trained tops on one frozen bottom: several networks that share the stem and
blocks ``0 .. cut-1`` of an EfficientNet-Lite (the part ``rankiqa features --cut`` caches and
``rankiqa train-head`` never trains) become one network whose bottom runs once.

Members differ only above the cut: blocks ``cut ..``, the head convolution and the stats head.
The ensemble's output is the mean of the members' *linear* scores (each member's
``offset + scale * raw``, its model file's score scale folded in), so its model file keeps one
score object: ``offset`` 0, ``scale`` 1 and the members' squash. Each member after the first
costs about 0.21 of one Lite0 network in ONNX Runtime (500 px, one thread; measured in
docs/results.md §11), so two members cost about 1.21 networks.

:class:`TopEnsemble` is the backbone (the bottom once, then every member's top; its
:meth:`~TopEnsemble.forward_taps` lists each member's taps, the bottom's repeated, so region
maps pool exactly what each member's head pools), :class:`EnsembleStatsHead` the head (each
member's stats head on its own slice of the pooled statistics), :func:`ensemble_of` builds one
from trained networks.

Examples
--------
>>> import torch
>>> from rankiqa.models import build_model
>>> torch.manual_seed(0) and None
>>> first = build_model("efficientnet_lite0", "stats", None).eval()
>>> second = build_model("efficientnet_lite0", "stats", None).eval()  # another top and head...
>>> bottom = {k: v for k, v in first.backbone.state_dict().items() if not top_parameter_names(k, 11)}
>>> second.backbone.load_state_dict(bottom, strict=False) and None  # ...on the same bottom
>>> nets = [first, second]
>>> scores = [{"offset": 50.0, "scale": 10.0}, {"offset": 40.0, "scale": 20.0}]
>>> both = ensemble_of(nets, scores, cut=11).eval()
>>> x = torch.rand(1, 3, 64, 96)
>>> mean = (nets[0](x) * 10 + 50 + nets[1](x) * 20 + 40) / 2
>>> torch.allclose(both(x), mean, atol=1e-4)
True
>>> again, score = member_of(both, 1)  # and back: member 1 alone, with its score scale
>>> torch.allclose(again.eval()(x), nets[1](x), atol=1e-5), score
(True, {'offset': 40.0, 'scale': 20.0})
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from rankiqa.core.errors import UserError
from rankiqa.models.efficientnet_lite import EfficientNetLite
from rankiqa.models.heads import StatsHead

__all__ = [
    "EnsembleStatsHead", "TopEnsemble", "bottom_difference", "ensemble_of", "ensemble_parts",
    "member_of", "top_parameter_names",
]


class _Top(nn.Module):
    """One member's blocks ``cut ..``, head convolution and its batch norm."""

    def __init__(self, net: EfficientNetLite, cut: int):
        super().__init__()
        self.blocks = nn.ModuleList(copy.deepcopy(net._blocks[i]) for i in range(cut, len(net._blocks)))
        self._conv_head = copy.deepcopy(net._conv_head)
        self._bn1 = copy.deepcopy(net._bn1)


class TopEnsemble(EfficientNetLite):
    """An EfficientNet-Lite whose top (blocks ``cut ..``, head convolution) exists ``members``
    times: member 0's is the network's own, the others are in ``_tops``. The stem and blocks
    ``0 .. cut-1`` run once.

    :meth:`forward_taps` returns, for each member in turn, the tapped maps under the cut (the
    same tensors for every member) followed by that member's tapped maps above it, so a stats
    head over ``members`` times the taps of one network sees each member's statistics in its
    own slice; ``tap_channels`` says so.
    """

    def __init__(self, stages: tuple[tuple[int, ...], ...], head: int, taps: str, cut: int,
                 members: int):
        super().__init__(stages, head, taps)
        if not 0 < cut < len(self._blocks):
            raise UserError(f"ensemble cut must be in 1..{len(self._blocks) - 1}, got {cut}")
        if members < 1:
            raise UserError(f"an ensemble needs at least one member, got {members}")
        self.cut, self.members = int(cut), int(members)
        self._tops = nn.ModuleList(_Top(self, cut) for _ in range(members - 1))
        self.member_tap_channels = self.tap_channels
        self.tap_channels = self.tap_channels * members

    def _top_taps(self, member: int, x: torch.Tensor) -> list[torch.Tensor]:
        if member == 0:
            return super().forward_taps(x, start=self.cut)
        top, outputs = self._tops[member - 1], []
        for offset, block in enumerate(top.blocks):
            x = block(x)
            if self.cut + offset in self.tap_blocks:
                outputs.append(x)
        outputs.append(torch.nn.functional.relu6(top._bn1(top._conv_head(x))))
        return outputs

    def forward_taps(self, x: torch.Tensor, start: int = 0) -> list[torch.Tensor]:
        if start:
            raise UserError("an ensemble's taps start at the image")
        below, mid = self.forward_bottom(x, self.cut)
        return [t for m in range(self.members) for t in (*below, *self._top_taps(m, mid))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise UserError("an ensemble backbone has one output map per member: use forward_taps")


class EnsembleStatsHead(nn.Module):
    """The mean of ``members`` stats heads' linear scores, member ``k``'s head pooling the
    ``k``-th slice of the taps (:meth:`TopEnsemble.forward_taps`) and its output mapped by
    ``scale[k] * raw + offset[k]``.

    ``norm`` (an identity) and ``fc`` (the members' standardisation, MLPs and score scales on
    the pooled statistics of every tap) follow :class:`~rankiqa.models.heads.StatsHead`, so
    region maps and exports treat both heads alike.
    """

    multi_level = True

    def __init__(self, channels: tuple[int, ...], members: int, hidden: int = 256):
        super().__init__()
        self.members = int(members)
        self.heads = nn.ModuleList(StatsHead(channels, hidden) for _ in range(members))
        self.register_buffer("scale", torch.ones(members))
        self.register_buffer("offset", torch.zeros(members))
        self.width = 2 * sum(channels)
        self.norm = nn.Identity()
        self.fc = _MemberMean(self)

    pool = staticmethod(StatsHead.pool)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.pool(features)).squeeze(1)


class _MemberMean(nn.Module):
    """N×(members·width) pooled statistics → N×1 mean linear score of the members."""

    def __init__(self, head: EnsembleStatsHead):
        super().__init__()
        self._head = [head]  # a plain list: no second registration of the head's parameters

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        head = self._head[0]
        outs = []
        for k, member in enumerate(head.heads):
            part = pooled[:, k * head.width:(k + 1) * head.width]
            outs.append(member.fc(member.norm(part)) * head.scale[k] + head.offset[k])
        return torch.stack(outs).mean(0)


def top_parameter_names(name: str, cut: int) -> bool:
    """Whether a backbone state-dict key belongs to the top (blocks ``cut ..``, head
    convolution and its batch norm).

    >>> top_parameter_names("_blocks.11._bn0.weight", 11), top_parameter_names("_bn0.bias", 11)
    (True, False)
    """
    if name.startswith("_blocks."):
        return int(name.split(".")[1]) >= cut
    return name.startswith(("_conv_head.", "_bn1."))


def bottom_difference(state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor],
                      cut: int, rtol: float = 0.0, atol: float = 0.0) -> str | None:
    """The first backbone state-dict key below ``cut`` (stem, blocks ``0 .. cut-1``) whose
    floating-point tensors differ beyond ``rtol``/``atol`` (0: exactly), or ``None``.

    >>> a = {"_conv_stem.weight": torch.ones(2), "_blocks.11._bn0.weight": torch.ones(2)}
    >>> b = {"_conv_stem.weight": torch.ones(2), "_blocks.11._bn0.weight": torch.zeros(2)}
    >>> bottom_difference(a, b, 11) is None, bottom_difference(a, b, 12)
    (True, '_blocks.11._bn0.weight')
    """
    for key, value in reference.items():
        if top_parameter_names(key, cut) or not value.is_floating_point():
            continue
        if not torch.allclose(state[key], value, rtol=rtol, atol=atol):
            return key
    return None


def ensemble_of(nets: list[nn.Module], scores: list[dict[str, Any]], cut: int) -> nn.Module:
    """One :class:`~rankiqa.models.QualityNet` scoring the mean linear score of ``nets``
    (EfficientNet-Lite stats-head networks whose stem and blocks ``0 .. cut-1`` are equal, e.g.
    ``rankiqa train-head`` runs on one ``--cut`` cache); ``scores`` are their model files'
    score objects (offset, scale; the squash, applied after the mean, must be the same).
    """

    if len(nets) < 2:
        raise UserError("an ensemble needs at least two models")
    squashes = {s.get("squash") for s in scores}
    if len(squashes) > 1:
        raise UserError(f"models with different score squashes cannot be averaged: {squashes}")
    first = nets[0]
    first_state = first.backbone.state_dict()
    for k, net in enumerate(nets):
        if not isinstance(net.backbone, EfficientNetLite) or isinstance(net.backbone, TopEnsemble):
            raise UserError(f"model {k + 1}: an ensemble needs EfficientNet-Lite networks")
        if not isinstance(net.head, StatsHead):
            raise UserError(f"model {k + 1}: an ensemble needs stats heads")
        if net.config["backbone"] != first.config["backbone"] or (
            net.config.get("head_hidden") != first.config.get("head_hidden")):
            raise UserError(f"model {k + 1}: not the architecture of model 1")
        key = bottom_difference(net.backbone.state_dict(), first_state, cut)
        if key is not None:
            raise UserError(f"model {k + 1}: its bottom (stem, blocks 0..{cut - 1}) differs "
                            f"from model 1's ({key}): not trained on one --cut {cut} cache")
    config = {**first.config, "ensemble": {"members": len(nets), "cut": int(cut)}}
    ensemble = type(first)(*ensemble_parts(config), config)  # a QualityNet like its members
    backbone = ensemble.backbone
    backbone.load_state_dict(first_state, strict=False)  # the bottom and member 0's top
    for j, net in enumerate(nets[1:]):
        top = backbone._tops[j]
        state = net.backbone.state_dict()
        top.load_state_dict({
            **{f"blocks.{int(k.split('.')[1]) - cut}.{k.split('.', 2)[2]}": v
               for k, v in state.items() if k.startswith("_blocks.") and top_parameter_names(k, cut)},
            **{k: v for k, v in state.items() if k.startswith(("_conv_head.", "_bn1."))}})
    for k, net in enumerate(nets):
        ensemble.head.heads[k].load_state_dict(net.head.state_dict())
        ensemble.head.scale[k] = float(scores[k].get("scale", 1.0))
        ensemble.head.offset[k] = float(scores[k].get("offset", 0.0))
    for key in ("mean", "std"):
        getattr(ensemble, key).copy_(getattr(first, key))
    return ensemble


def member_of(ensemble: nn.Module, member: int) -> tuple[nn.Module, dict[str, float]]:
    """Member ``member`` of an ensemble network (:func:`ensemble_of`'s inverse): one
    :class:`~rankiqa.models.QualityNet` — the shared bottom, that member's top and stats head —
    and its score scale (``offset``, ``scale``: its linear score is ``offset + scale * raw``)."""
    from rankiqa.models.backbones import BACKBONES

    backbone, head = ensemble.backbone, ensemble.head
    if not isinstance(backbone, TopEnsemble):
        raise UserError("not an ensemble network")
    if not 0 <= member < backbone.members:
        raise UserError(f"member {member}: the ensemble has members 0..{backbone.members - 1}")
    config = {k: v for k, v in ensemble.config.items() if k != "ensemble"}
    single = BACKBONES[config["backbone"]].build()
    hidden = config.get("head_hidden")
    net = type(ensemble)(single, StatsHead(single.tap_channels, 256 if hidden is None else int(hidden)),
                         config)  # a QualityNet like the ensemble
    everything = backbone.state_dict()
    state = {k: v for k, v in everything.items() if not k.startswith("_tops.")}
    if member:
        cut, prefix = backbone.cut, f"_tops.{member - 1}."
        for key, value in everything.items():
            if not key.startswith(prefix):
                continue
            key = key[len(prefix):]
            if key.startswith("blocks."):
                index, rest = key.split(".", 2)[1:]
                key = f"_blocks.{int(index) + cut}.{rest}"
            state[key] = value
    net.backbone.load_state_dict(state)
    net.head.load_state_dict(head.heads[member].state_dict())
    for key in ("mean", "std"):
        getattr(net, key).copy_(getattr(ensemble, key))
    return net, {"offset": float(head.offset[member]), "scale": float(head.scale[member])}


def ensemble_parts(config: dict[str, Any]) -> tuple[TopEnsemble, EnsembleStatsHead]:
    """The untrained backbone and head of the ensemble a model config's ``ensemble`` entry
    describes (:func:`rankiqa.models.model_from_config` wraps them in a ``QualityNet``)."""
    from rankiqa.models.backbones import BACKBONES

    single = BACKBONES[config["backbone"]].build()
    if not isinstance(single, EfficientNetLite):
        raise UserError(f"backbone {config['backbone']} cannot hold an ensemble "
                        "(EfficientNet-Lite only)")
    members, cut = int(config["ensemble"]["members"]), int(config["ensemble"]["cut"])
    backbone = TopEnsemble(single.stages, single._bn1.num_features, single.taps, cut, members)
    hidden = config.get("head_hidden")
    head = EnsembleStatsHead(backbone.member_tap_channels, members,
                             256 if hidden is None else int(hidden))
    return backbone, head
