"""IQA dataset tables: one record per rated image, scores normalised to 0–100 (higher = better)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class IQARecord:
    """One rated image.

    ``score`` is the raw value from the dataset's files; ``target`` is the same value rescaled
    to 0–100 with higher = better (docs/contracts.md contract 3): ``100 * (s - lo) / (hi - lo)``, flipped for
    DMOS. ``reference`` / ``distortion`` are ``None`` for authentic datasets.
    """

    path: Path
    score: float
    target: float
    reference: str | None = None
    distortion: str | None = None


@dataclass(frozen=True)
class IQATable:
    """A loaded dataset: its records plus how its raw scores are to be read."""

    name: str
    root: Path
    records: tuple[IQARecord, ...]
    direction: str  #: "higher" (MOS) or "lower" (DMOS) is better, for the raw ``score``
    score_range: tuple[float, float]  #: nominal (lo, hi) of the raw score
    synthetic: bool  #: True when images are distorted copies of references
    distortion_names: dict[str, str] = field(default_factory=dict)
    official_split: dict[str, tuple[int, ...]] | None = None  #: e.g. KonIQ's train/val/test

    def __len__(self) -> int:
        return len(self.records)

    @property
    def paths(self) -> list[Path]:
        return [r.path for r in self.records]

    @property
    def targets(self) -> list[float]:
        return [r.target for r in self.records]

    @property
    def scores(self) -> list[float]:
        return [r.score for r in self.records]

    @property
    def references(self) -> list[str | None]:
        return [r.reference for r in self.records]

    @property
    def distortions(self) -> list[str | None]:
        return [r.distortion for r in self.records]

    def summary(self) -> dict[str, Any]:
        """What ``rankiqa datasets --dataset NAME`` prints: size, score direction and ranges,
        references, distortion types, official split sizes."""
        scores = self.scores
        return {
            "dataset": self.name,
            "root": str(self.root),
            "images": len(self),
            "kind": "synthetic" if self.synthetic else "authentic",
            "direction": f"{self.direction} is better",
            "nominal_range": list(self.score_range),
            "observed_range": [float(min(scores)), float(max(scores))] if scores else [],
            "references": len({r for r in self.references if r}),
            "distortion_types": sorted({d for d in self.distortions if d}),
            "official_split": {k: len(v) for k, v in (self.official_split or {}).items()} or None,
        }

    def subset(self, indices: Sequence[int]) -> IQATable:
        """The records at ``indices`` (in that order); the official split is dropped."""
        return replace(self, records=tuple(self.records[i] for i in indices), official_split=None)


def normalise(score: float, lo: float, hi: float, higher_is_better: bool) -> float:
    """Rescale a raw score to 0–100 with higher = better (contract 3)."""
    t = 100.0 * (score - lo) / (hi - lo)
    return t if higher_is_better else 100.0 - t


def denormalise(target: float, lo: float, hi: float, higher_is_better: bool) -> float:
    """Inverse of :func:`normalise`: a 0–100 prediction back on the dataset's raw scale."""
    t = target if higher_is_better else 100.0 - target
    return lo + t * (hi - lo) / 100.0
