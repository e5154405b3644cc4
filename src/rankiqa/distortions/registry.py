"""Distortion registry: named, levelled, deterministic image distortions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: A distortion primitive: ``(image uint8 H×W×3, parameter, rng) -> uint8 H×W×3``.
Primitive = Callable[[np.ndarray, Any, np.random.Generator], np.ndarray]

#: Every primitive by name (filled by :func:`register`).
FUNCTIONS: dict[str, Primitive] = {}


def register(name: str) -> Callable[[Primitive], Primitive]:
    """Decorator adding a primitive to :data:`FUNCTIONS` under ``name``."""

    def decorate(func: Primitive) -> Primitive:
        if name in FUNCTIONS:
            raise ValueError(f"distortion function {name!r} registered twice")
        FUNCTIONS[name] = func
        return func

    return decorate


@dataclass(frozen=True)
class Distortion:
    """One distortion group: a primitive with one parameter per level 1..L.

    Calling it as ``d(image, level, rng)`` returns a new uint8 H×W×3 array; level 0 returns an
    unchanged copy of ``image`` and larger levels are increasingly worse.

    Examples
    --------
    >>> from rankiqa.distortions import TID2013
    >>> blur = TID2013["gblur"]
    >>> image = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    >>> [float(blur(image, level).std().round(1)) for level in range(3)] == sorted(
    ...     [float(blur(image, level).std().round(1)) for level in range(3)], reverse=True)
    True
    """

    name: str
    function: str
    levels: tuple[Any, ...]
    parameter: str
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    def __call__(
        self, image: np.ndarray, level: int, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        check_image(image)
        if not 0 <= level <= self.num_levels:
            raise ValueError(f"{self.name}: level must be in 0..{self.num_levels}, got {level}")
        if level == 0:
            return image.copy()
        if rng is None:
            rng = np.random.default_rng(0)
        out = FUNCTIONS[self.function](image, self.levels[level - 1], rng)
        assert out.shape == image.shape and out.dtype == np.uint8, self.name
        return out

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description (used in ``preset.json``)."""
        return {
            "function": self.function,
            "parameter": self.parameter,
            "levels": list(self.levels),
            "description": self.description,
        }


def check_image(image: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``image`` is uint8 H×W×3 with both sides ≥ 1."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a uint8 numpy array")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must be H×W×3, got shape {image.shape}")


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Round and clip a float array (0..255 scale) to uint8."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)
