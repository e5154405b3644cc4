"""Synthetic distortions for ranked image sets (RankIQA stage 0).

Each :class:`Distortion` is called as ``d(image, level, rng)`` on a uint8 H×W×3 RGB array;
level 0 is the pristine image and larger levels are worse. :data:`PRESETS` maps a preset name
(``live``, ``tid2013``, ``mlive``, ``exposure``) to its groups; the ``mlive`` groups are
:class:`CombinedDistortion` grids (two distortions in turn) with a partial order.
"""

from rankiqa.distortions import blur, color, compression, noise, spatial  # noqa: F401 (register)
from rankiqa.distortions.combined import CombinedDistortion, dominates
from rankiqa.distortions.presets import EXPOSURE, LIVE, MLIVE, PRESETS, TID2013
from rankiqa.distortions.registry import FUNCTIONS, Distortion, register

__all__ = [
    "EXPOSURE",
    "FUNCTIONS",
    "LIVE",
    "MLIVE",
    "PRESETS",
    "TID2013",
    "CombinedDistortion",
    "Distortion",
    "dominates",
    "get_preset",
    "register",
]


def get_preset(name: str) -> dict[str, Distortion | CombinedDistortion]:
    """The groups of preset ``name``; ``KeyError`` names the known presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}") from None
