"""Ranked sets written by ``rankiqa distort``: reading, splitting by reference, and the batch
layout / sampler / dataset of the efficient ranking loss.

A batch is made of ``G`` *blocks*, one per distortion group; a block holds ``L`` levels
(level 0 = the pristine image, which belongs to every group of its reference and is therefore
emitted once per block) of ``R`` references. The paper's layouts are LIVE ``4×6×2 = 48`` and
TID2013 ``9×5×1 = 45``. Every sample is labelled with its block (``group``), ``level`` and
``reference`` so that :func:`rankiqa.losses.ranking_hinge_loss` finds the ranked pairs.

A group whose ``preset.json`` entry has ``"order": "componentwise"`` (the ``mlive`` preset's
multiply distorted grids) is only partially ordered: its images are labelled with their stage
levels (a tuple, from the entry's ``levels``) instead of the level number, and the loss ranks
only the pairs where one image has at least as much of every distortion (see
:meth:`RankedSet.rank_label`).

All randomness (reference order per epoch, group/level choice per batch, crop positions) is
derived from ``(seed, epoch)`` / ``(seed, iteration)``, so iteration ``k`` of a run is the same
whether or not the run was interrupted before it, and the same whatever the number of processes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from rankiqa.core.errors import UserError
from rankiqa.core.imageio import read_image
from rankiqa.core.preprocess import center_crop, fit_to_crop, to_float_tensor
from rankiqa.core.ranked_format import MANIFEST, PRESET, read_manifest, read_preset

# ----------------------------------------------------------------------------- manifest


@dataclass
class RankedSet:
    """The ranked images of some references: for every (reference, group) the images by level.

    Attributes:
        root: the ``distort`` output folder.
        references: reference names, sorted.
        groups: distortion group names (``pristine`` excluded), sorted.
        levels: distorted levels available per group (sorted, without 0).
        pristine: reference → pristine image path.
        images: (reference, group, level ≥ 1) → image path.
        preset: contents of ``preset.json`` (empty if absent).
        coordinates: for partially ordered groups, level → stage levels (level 0 excluded).
    """

    root: Path
    references: list[str]
    groups: list[str]
    levels: dict[str, list[int]]
    pristine: dict[str, Path]
    images: dict[tuple[str, str, int], Path]
    preset: dict
    coordinates: dict[str, dict[int, tuple[int, ...]]] = field(default_factory=dict)

    @property
    def label_width(self) -> int:
        """Length of the ranking labels: 0 (plain level numbers) or the most stages of a group."""
        return max((len(next(iter(c.values()))) for c in self.coordinates.values() if c), default=0)

    def rank_label(self, group: str, level: int) -> int | tuple[int, ...]:
        """What the ranking loss compares for the image of ``group`` at ``level``.

        Without partially ordered groups, the level itself (``a`` beats ``b`` when
        ``a < b``). Otherwise a tuple of :attr:`label_width` stage levels — a level ``l`` of a
        plain group becomes ``(l, 0, …)`` — and ``a`` beats ``b`` when ``a <= b`` in every
        position and ``a != b``, which keeps exactly the pairs whose order is known.
        """
        width = self.label_width
        if not width:
            return level
        if level == 0:
            return (0,) * width
        coords = self.coordinates.get(group)
        label = coords[level] if coords is not None else (level,)
        return tuple(label) + (0,) * (width - len(label))

    def path(self, reference: str, group: str, level: int) -> Path:
        """Image of ``reference`` distorted by ``group`` at ``level`` (0 = pristine)."""
        if level == 0:
            return self.pristine[reference]
        return self.images[(reference, group, level)]

    def subset(self, references: Sequence[str]) -> RankedSet:
        """The same set restricted to ``references``."""
        keep = set(references)
        return RankedSet(
            self.root,
            sorted(keep),
            list(self.groups),
            {g: list(v) for g, v in self.levels.items()},
            {r: p for r, p in self.pristine.items() if r in keep},
            {k: p for k, p in self.images.items() if k[0] in keep},
            dict(self.preset),
            {g: dict(c) for g, c in self.coordinates.items()},
        )

    def __len__(self) -> int:
        return len(self.pristine) + len(self.images)


def read_ranked_set(root: str | os.PathLike, check_files: bool = True) -> RankedSet:
    """Read ``ROOT/manifest.csv`` (and ``preset.json``) written by ``rankiqa distort``.

    Every reference must have a pristine row and the same groups with the same levels.

    Raises:
        UserError: missing folder/manifest, malformed line (named with its line number),
            missing image file, or an incomplete (reference, group) grid.
    """
    root = Path(root)
    manifest = root / MANIFEST
    pristine: dict[str, Path] = {}
    images: dict[tuple[str, str, int], Path] = {}
    for row in read_manifest(root):
        path = root / row.path
        where = f"{manifest}:{row.line}"
        if check_files and not path.is_file():
            raise UserError(f"{where}: image {path} not found")
        if row.level == 0:
            if row.reference in pristine:
                raise UserError(f"{where}: second pristine row for {row.reference!r}")
            pristine[row.reference] = path
        else:
            key = (row.reference, row.distortion, row.level)
            if key in images:
                raise UserError(f"{where}: duplicate row for {key}")
            images[key] = path
    if not pristine:
        raise UserError(f"{manifest}: no pristine images listed")
    references = sorted(pristine)
    groups = sorted({g for _, g, _ in images})
    if not groups:
        raise UserError(f"{manifest}: no distorted images listed")
    levels = {g: sorted({lv for _, gg, lv in images if gg == g}) for g in groups}
    for ref, _group, _level in images:
        if ref not in pristine:
            raise UserError(f"{manifest}: reference {ref!r} has no pristine row")
    for ref in references:
        for group in groups:
            for level in levels[group]:
                if (ref, group, level) not in images:
                    raise UserError(
                        f"{manifest}: reference {ref!r} lacks {group} level {level} "
                        "(every reference needs every group and level)"
                    )
    preset = read_preset(root)
    preset_file = root / PRESET
    coordinates = {
        g: _partial_order(preset_file, g, preset["groups"][g], levels[g])
        for g in groups
        if isinstance(preset.get("groups"), dict)
        and isinstance(preset["groups"].get(g), dict)
        and "order" in preset["groups"][g]
    }
    return RankedSet(root, references, groups, levels, pristine, images, preset, coordinates)


def read_ranked_sets(roots: Sequence[str | os.PathLike]) -> RankedSet:
    """Several ``rankiqa distort`` folders as one ranked set (one folder: :func:`read_ranked_set`).

    References are named ``FOLDER/REFERENCE`` (the folder's name), so names cannot clash; the
    folders must share their distortion groups and levels (e.g. the same preset).

    Raises:
        UserError: as :func:`read_ranked_set`, two folders of the same name, or folders whose
            groups or levels differ.

    ``read_ranked_sets(["work/ranked/cbsd68", "work/ranked/mcmaster"]).references`` →
    ``["cbsd68/101085", …, "mcmaster/1", …]``.
    """
    sets = [read_ranked_set(root) for root in roots]
    if len(sets) == 1:
        return sets[0]
    names = [s.root.name for s in sets]
    if len(set(names)) != len(names):
        raise UserError(f"ranked sets need distinct folder names, got {', '.join(names)}")
    first = sets[0]
    for other in sets[1:]:
        if (other.groups, other.levels, other.coordinates) != (
            first.groups,
            first.levels,
            first.coordinates,
        ):
            raise UserError(
                f"{other.root}: its distortion groups/levels differ from {first.root}'s "
                "(ranked sets trained together need the same preset)"
            )
    pristine = {f"{s.root.name}/{r}": path for s in sets for r, path in s.pristine.items()}
    images = {
        (f"{s.root.name}/{r}", g, lv): path for s in sets for (r, g, lv), path in s.images.items()
    }
    return RankedSet(
        first.root.parent,
        sorted(pristine),
        list(first.groups),
        {g: list(v) for g, v in first.levels.items()},
        pristine,
        images,
        dict(first.preset),
        {g: dict(c) for g, c in first.coordinates.items()},
    )


def _partial_order(
    source: Path, group: str, entry: dict, levels: list[int]
) -> dict[int, tuple[int, ...]]:
    """Level → stage levels of a partially ordered group's ``preset.json`` entry, checked
    against the manifest's levels and the entry's explicit ``pairs``."""
    where = f"{source}: group {group!r}"
    if entry["order"] != "componentwise":
        raise UserError(f"{where}: unknown order {entry['order']!r} (expected 'componentwise')")
    raw = entry.get("levels")
    try:
        coords = {k: tuple(int(v) for v in c) for k, c in enumerate(raw, start=1)}
    except (TypeError, ValueError):
        raise UserError(f"{where}: 'levels' must list the stage levels of levels 1..L") from None
    widths = {len(c) for c in coords.values()}
    if len(widths) != 1 or 0 in widths or any(v < 0 for c in coords.values() for v in c):
        raise UserError(f"{where}: 'levels' must be lists of non-negative stage levels, one length")
    zero = (0,) * widths.pop()
    if len(set(coords.values()) | {zero}) != len(coords) + 1:
        raise UserError(f"{where}: two levels have the same stage levels (or level 0's)")
    missing = [lv for lv in levels if lv not in coords]
    if missing:
        raise UserError(f"{where}: manifest level {missing[0]} has no stage levels in 'levels'")
    if "pairs" in entry:
        full = {0: zero, **coords}
        known = {
            (b, w)
            for b in full
            for w in full
            if b != w and all(x <= y for x, y in zip(full[b], full[w], strict=True))
        }
        try:
            listed = {(int(b), int(w)) for b, w in entry["pairs"]}
        except (TypeError, ValueError):
            raise UserError(f"{where}: 'pairs' must be [better, worse] level pairs") from None
        if listed != known:
            raise UserError(
                f"{where}: 'pairs' ({len(listed)}) are not the componentwise order of 'levels' "
                f"({len(known)} pairs)"
            )
    return coords


def split_references(
    references: Sequence[str], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split references into disjoint (train, validation) lists, deterministically from ``seed``.

    At least one reference goes to each side when ``0 < val_fraction < 1`` and there are two or
    more references; ``val_fraction=0`` gives no validation references.
    """
    if not 0 <= val_fraction < 1:
        raise UserError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    refs = sorted(references)
    order = np.random.default_rng([seed, 7]).permutation(len(refs))
    n_val = round(val_fraction * len(refs))
    if val_fraction > 0 and len(refs) >= 2:
        n_val = min(max(n_val, 1), len(refs) - 1)
    val = sorted(refs[i] for i in order[:n_val])
    train = sorted(refs[i] for i in order[n_val:])
    return train, val


# ----------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class BatchLayout:
    """``groups`` blocks × ``levels`` levels (pristine included) × ``references`` per batch."""

    groups: int
    levels: int
    references: int

    PRESETS = {"live": (4, 6, 2), "tid": (9, 5, 1)}

    def __post_init__(self) -> None:
        if self.groups < 1 or self.levels < 2 or self.references < 1:
            raise UserError(
                f"--layout: need ≥1 group, ≥2 levels and ≥1 reference, got "
                f"{self.groups}x{self.levels}x{self.references}"
            )

    @property
    def size(self) -> int:
        """Images per (global) batch."""
        return self.groups * self.levels * self.references

    @property
    def block_size(self) -> int:
        return self.levels * self.references

    @classmethod
    def parse(cls, text: str) -> BatchLayout:
        """``live`` (4×6×2), ``tid`` (9×5×1) or ``GxLxR`` (e.g. ``4x6x2``)."""
        key = text.strip().lower()
        if key in cls.PRESETS:
            return cls(*cls.PRESETS[key])
        match = re.fullmatch(r"(\d+)[x×](\d+)[x×](\d+)", key)
        if not match:
            raise UserError(f"--layout: expected live, tid or GxLxR (e.g. 4x6x2), got {text!r}")
        return cls(*(int(v) for v in match.groups()))

    def __str__(self) -> str:
        return f"{self.groups}x{self.levels}x{self.references}"


def check_layout(layout: BatchLayout, ranked: RankedSet, world_size: int = 1) -> None:
    """Raise :class:`UserError` when ``ranked`` cannot fill ``layout`` (or the processes)."""
    if layout.groups > len(ranked.groups):
        raise UserError(
            f"--layout {layout}: needs {layout.groups} distortion groups per batch, the set has "
            f"{len(ranked.groups)} ({', '.join(ranked.groups)})"
        )
    short = [g for g in ranked.groups if len(ranked.levels[g]) < layout.levels - 1]
    if short:
        raise UserError(
            f"--layout {layout}: needs {layout.levels - 1} distorted levels per group, "
            f"{short[0]} has {len(ranked.levels[short[0]])}"
        )
    if layout.references > len(ranked.references):
        raise UserError(
            f"--layout {layout}: needs {layout.references} training references per batch, "
            f"only {len(ranked.references)} available"
        )
    if layout.groups % world_size:
        raise UserError(
            f"--layout {layout}: {layout.groups} groups per batch cannot be shared by "
            f"{world_size} processes (each process takes whole groups)"
        )


# ----------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class Sample:
    """What the dataset needs to produce one training image and its labels."""

    path: str
    group: int  #: block index in the global batch
    level: int | tuple[int, ...]  #: ranking label, :meth:`RankedSet.rank_label`
    reference: int  #: index of the reference in the ranked set
    crop_seed: int


class RankedBatchSampler(Sampler[list[Sample]]):
    """Yields the samples of one batch per iteration, following a :class:`BatchLayout`.

    Epoch ``e`` visits the training references in an order shuffled from ``(seed, e)``, ``R``
    per batch (a last incomplete chunk is dropped). Each batch draws ``G`` distinct groups and,
    for groups with more than ``L - 1`` levels, ``L - 1`` levels (sorted) from
    ``(seed, iteration)``. Process ``rank`` of ``world_size`` gets blocks
    ``rank * G/W ... (rank+1) * G/W - 1`` of the global batch.

    Args:
        ranked: the training references' ranked set.
        layout: the global batch layout.
        iterations: total number of iterations (batches) of the run.
        seed: run seed.
        start: first iteration to produce (for resuming).
        rank, world_size: this process's share.
    """

    def __init__(
        self,
        ranked: RankedSet,
        layout: BatchLayout,
        iterations: int,
        seed: int = 0,
        start: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        check_layout(layout, ranked, world_size)
        self.ranked = ranked
        self.layout = layout
        self.iterations = iterations
        self.seed = seed
        self.start = start
        self.rank = rank
        self.world_size = world_size
        self.ref_index = {r: i for i, r in enumerate(ranked.references)}
        self.batches_per_epoch = len(ranked.references) // layout.references

    def __len__(self) -> int:
        return max(0, self.iterations - self.start)

    def _epoch_order(self, epoch: int) -> list[str]:
        perm = np.random.default_rng([self.seed, 1, epoch]).permutation(len(self.ranked.references))
        return [self.ranked.references[i] for i in perm]

    def batch(self, iteration: int) -> list[Sample]:
        """This process's samples for ``iteration`` (0-based)."""
        lay = self.layout
        epoch, pos = divmod(iteration, self.batches_per_epoch)
        refs = self._epoch_order(epoch)[pos * lay.references : (pos + 1) * lay.references]
        rng = np.random.default_rng([self.seed, 2, iteration])
        groups = [self.ranked.groups[i] for i in rng.permutation(len(self.ranked.groups))]
        groups = groups[: lay.groups]
        per_rank = lay.groups // self.world_size
        crop_base = np.random.default_rng([self.seed, 3, iteration]).integers(
            0, 2**62, size=lay.size
        )
        samples: list[Sample] = []
        for block, group in enumerate(groups):
            available = self.ranked.levels[group]
            if len(available) > lay.levels - 1:
                chosen = sorted(rng.choice(available, size=lay.levels - 1, replace=False).tolist())
            else:
                chosen = list(available)
            if not self.rank * per_rank <= block < (self.rank + 1) * per_rank:
                continue
            for li, level in enumerate([0, *chosen]):
                for ri, ref in enumerate(refs):
                    idx = (block * lay.levels + li) * lay.references + ri
                    samples.append(
                        Sample(
                            str(self.ranked.path(ref, group, level)),
                            block,
                            self.ranked.rank_label(group, level),
                            self.ref_index[ref],
                            int(crop_base[idx]),
                        )
                    )
        return samples

    def __iter__(self) -> Iterator[list[Sample]]:
        for iteration in range(self.start, self.iterations):
            yield self.batch(iteration)


# ----------------------------------------------------------------------------- images


def crop_position(height: int, width: int, crop_size: int, seed: int) -> tuple[int, int]:
    """(top, left) of a ``crop_size`` square in an image of that size, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    top = int(rng.integers(0, height - crop_size + 1))
    left = int(rng.integers(0, width - crop_size + 1))
    return top, left


def random_crop(image: np.ndarray, crop_size: int, seed: int) -> torch.Tensor:
    """A ``crop_size`` square (float 3×S×S in [0, 1]) at a position drawn from ``seed``; images
    smaller than the crop are upscaled first (as at test time)."""
    tensor = fit_to_crop(to_float_tensor(image), crop_size)
    top, left = crop_position(*tensor.shape[-2:], crop_size, seed)
    return tensor[:, top : top + crop_size, left : left + crop_size]


class RankedCropDataset(Dataset):
    """Decodes and crops the :class:`Sample` given by :class:`RankedBatchSampler` (use it as the
    DataLoader's ``batch_sampler``, so decoding runs in the workers).

    Returns ``(image 3×S×S float in [0, 1], group, level, reference)``.
    """

    def __init__(self, crop_size: int):
        self.crop_size = crop_size

    def __getitem__(self, sample: Sample):
        image = random_crop(read_image(sample.path), self.crop_size, sample.crop_seed)
        return image, sample.group, sample.level, sample.reference


@dataclass(frozen=True)
class EvalItem:
    """A validation image: its (reference, group) sequence and its level."""

    path: str
    reference: int
    group: int
    level: int | tuple[int, ...]  #: ranking label, :meth:`RankedSet.rank_label`


def eval_items(ranked: RankedSet) -> list[EvalItem]:
    """Every image of ``ranked`` once, pristine images under pseudo-group ``-1``."""
    zero = ranked.rank_label(ranked.groups[0], 0) if ranked.groups else 0
    items = [
        EvalItem(str(ranked.pristine[ref]), ri, -1, zero)
        for ri, ref in enumerate(ranked.references)
    ]
    for ri, ref in enumerate(ranked.references):
        for gi, group in enumerate(ranked.groups):
            for level in ranked.levels[group]:
                label = ranked.rank_label(group, level)
                items.append(EvalItem(str(ranked.images[(ref, group, level)]), ri, gi, label))
    return items


class EvalDataset(Dataset):
    """Center crops (deterministic) of :func:`eval_items`."""

    def __init__(self, items: Sequence[EvalItem], crop_size: int):
        self.items = list(items)
        self.crop_size = crop_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor:
        image = fit_to_crop(to_float_tensor(read_image(self.items[index].path)), self.crop_size)
        return center_crop(image, self.crop_size)


def ranked_loader(
    ranked: RankedSet,
    layout: BatchLayout,
    iterations: int,
    crop_size: int,
    seed: int = 0,
    start: int = 0,
    rank: int = 0,
    world_size: int = 1,
    workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """One batch of ``layout`` per iteration ``start … iterations - 1`` (the samples of
    :class:`RankedBatchSampler`, decoded and cropped by ``workers`` processes), as
    ``(images, groups, levels, references)`` tensors."""
    return DataLoader(
        RankedCropDataset(crop_size),
        batch_sampler=RankedBatchSampler(
            ranked, layout, iterations, seed, start, rank, world_size
        ),
        collate_fn=collate_samples,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=False,
    )


def collate_samples(batch):
    """Stack images and turn labels into long tensors (levels N×D for tuple labels)."""
    images, groups, levels, refs = zip(*batch, strict=True)
    return (
        torch.stack(images),
        torch.tensor(groups, dtype=torch.long),
        torch.tensor(levels, dtype=torch.long),
        torch.tensor(refs, dtype=torch.long),
    )
