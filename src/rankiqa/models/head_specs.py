"""The head table: every regression head rankiqa knows, what builds it and what it can do.

Code that depends on a head's abilities (the ``full`` view, ONNX graphs of any input size, the
default view of a model file, quality maps) asks its :class:`HeadSpec` here, never its name.
Adding a head = its ``nn.Module`` in :mod:`rankiqa.models.heads`, one entry in :data:`HEADS`
and, if it can make region maps, its map in :mod:`rankiqa.inference.model.regions`.

This module does not import torch (the CLI reads it for ``--head`` choices).

>>> [name for name, spec in HEADS.items() if spec.any_size]
['compact', 'stats']
>>> head_spec("paper").default_view
'center'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rankiqa.core.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from rankiqa.models.backbones import BackboneSpec


@dataclass(frozen=True)
class HeadSpec:
    """One regression head: its builder and its abilities."""

    name: str
    summary: str  #: one line for ``--help``
    #: ``(backbone spec, hidden width or None) -> nn.Module`` (imports torch when called)
    build: Callable[[BackboneSpec, int | None], nn.Module]
    #: pools globally: a score of any input size (the ``full`` view, dynamic-size ONNX graphs)
    any_size: bool
    region_map: bool  #: ``rankiqa map`` can compute its per-region quality map

    @property
    def default_view(self) -> str:
        """The test-time view of a model file that does not name one."""
        return "full" if self.any_size else "center"


def _paper(backbone: BackboneSpec, hidden: int | None) -> nn.Module:
    from rankiqa.models.heads import PaperHead

    return PaperHead(backbone.channels, backbone.paper_grid, backbone.paper_hidden)


def _compact(backbone: BackboneSpec, hidden: int | None) -> nn.Module:
    from rankiqa.models.heads import CompactHead

    return CompactHead(backbone.channels)


def _stats(backbone: BackboneSpec, hidden: int | None) -> nn.Module:
    from rankiqa.models.heads import StatsHead

    return StatsHead(backbone.tap_channels, **({} if hidden is None else {"hidden": hidden}))


HEADS: dict[str, HeadSpec] = {
    "paper": HeadSpec(
        "paper",
        "the paper's fc layers over a fixed grid (a fixed input size)",
        _paper,
        any_size=False,
        region_map=True,
    ),
    "compact": HeadSpec(
        "compact", "global avg+max pooling + small MLP", _compact, any_size=True, region_map=True
    ),
    "stats": HeadSpec(
        "stats",
        "mean and std of several backbone stages + small MLP",
        _stats,
        any_size=True,
        region_map=True,
    ),
}


def head_spec(name: str | None) -> HeadSpec:
    """The :class:`HeadSpec` of head ``name`` (a model's ``config["head"]``).

    >>> head_spec("stats").any_size
    True
    """
    if name not in HEADS:
        raise UserError(f"unknown head {name!r}; choose from {', '.join(HEADS)}")
    return HEADS[name]


def any_size_heads() -> str:
    """The heads that accept any input size, for messages: ``"compact or stats"``."""
    names = [name for name, spec in HEADS.items() if spec.any_size]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def heads_help() -> str:
    """``--head`` help: each head with its summary."""
    return "; ".join(f"{name}: {spec.summary}" for name, spec in HEADS.items())
