"""Multiply distorted groups: distortions applied one after another, each at its own level.

A :class:`CombinedDistortion` of stages ``(blur, jpeg)`` with 3 levels each has a 4×4 grid of
versions; its *level* ``k`` (what ``rankiqa distort`` writes in the manifest) numbers the grid
row-major, ``k = b·4 + j`` for blur level ``b`` and JPEG level ``j`` (0 = pristine). The grid is
only partially ordered: a version is known to be worse than another when it has at least as
much of every distortion and is not the same version. :meth:`CombinedDistortion.known_pairs`
lists those pairs; the ranking loss gets each version's stage levels (its *coordinates*) and
keeps exactly these pairs (see :func:`rankiqa.losses.ranking_pair_mask`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from rankiqa.distortions.registry import Distortion, check_image

#: ``describe()["order"]`` of a partially ordered group.
PARTIAL_ORDER = "componentwise"


def dominates(worse: tuple[int, ...], better: tuple[int, ...]) -> bool:
    """``True`` when ``worse`` has at least the level of ``better`` in every stage, and differs.

    >>> dominates((2, 1), (1, 1)), dominates((2, 0), (0, 1)), dominates((1, 1), (1, 1))
    (True, False, False)
    """
    return worse != better and all(w >= b for w, b in zip(worse, better, strict=True))


@dataclass(frozen=True)
class CombinedDistortion:
    """Stages applied in order, each at its own level; called like a :class:`Distortion`.

    ``d(image, level, rng)`` applies stage ``s`` at ``d.coordinates(level)[s]`` (stages at
    level 0 are skipped, so a one-stage version equals that stage alone); level 0 returns an
    unchanged copy. Stage ``s`` draws from a generator seeded by the ``s``-th of
    ``len(stages)`` integers drawn from ``rng``: given generators in the same state, every level
    gets the same random field per stage (common random numbers, e.g. one noise field scaled to
    each variance), so the known pairs are not left to the luck of independent draws.

    >>> from rankiqa.distortions.presets import MLIVE
    >>> d = MLIVE["blurjpeg"]
    >>> d.num_levels, d.coordinates(6), d.level_of((1, 2))
    (15, (1, 2), 6)
    >>> (0, 6) in d.known_pairs() and (6, 4) not in d.known_pairs()
    True
    """

    name: str
    stages: tuple[Distortion, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError(f"{self.name}: a combined distortion needs at least one stage")

    @property
    def grid(self) -> tuple[tuple[int, ...], ...]:
        """Stage levels of every level 0..``num_levels`` (row-major, the last stage fastest)."""
        return tuple(itertools.product(*(range(s.num_levels + 1) for s in self.stages)))

    @property
    def num_levels(self) -> int:
        return len(self.grid) - 1

    @property
    def levels(self) -> tuple[tuple[int, ...], ...]:
        """Stage levels of levels 1..``num_levels`` (as ``Distortion.levels`` lists parameters)."""
        return self.grid[1:]

    def coordinates(self, level: int) -> tuple[int, ...]:
        """The stage levels of ``level``."""
        if not 0 <= level <= self.num_levels:
            raise ValueError(f"{self.name}: level must be in 0..{self.num_levels}, got {level}")
        return self.grid[level]

    def level_of(self, coordinates: tuple[int, ...]) -> int:
        """The level whose stage levels are ``coordinates``."""
        try:
            return self.grid.index(tuple(coordinates))
        except ValueError:
            raise ValueError(f"{self.name}: no level has stage levels {coordinates}") from None

    def known_pairs(self) -> list[tuple[int, int]]:
        """Every ``(better, worse)`` pair of levels whose order is known (level 0 included)."""
        grid = self.grid
        return [
            (b, w)
            for b, w in itertools.permutations(range(len(grid)), 2)
            if dominates(grid[w], grid[b])
        ]

    def __call__(
        self, image: np.ndarray, level: int, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        check_image(image)
        coords = self.coordinates(level)
        if rng is None:
            rng = np.random.default_rng(0)
        seeds = rng.integers(0, 2**63, size=len(self.stages))
        out = image.copy()
        for stage, stage_level, stage_seed in zip(self.stages, coords, seeds, strict=True):
            if stage_level:
                out = stage(out, stage_level, np.random.default_rng(stage_seed))
        return out

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description (``preset.json``): the stages, the stage levels of
        every level (``levels``, for levels 1..L; level 0 is all zeros), ``order`` and the
        explicit list of known ``[better, worse]`` level pairs."""
        return {
            "function": "sequence",
            "parameter": "level of each stage (" + ", ".join(s.name for s in self.stages) + ")",
            "levels": [list(c) for c in self.levels],
            "description": self.description,
            "stages": [{"name": s.name, **s.describe()} for s in self.stages],
            "order": PARTIAL_ORDER,
            "pairs": [list(p) for p in self.known_pairs()],
        }
