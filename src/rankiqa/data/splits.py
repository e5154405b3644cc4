"""Train/test splits of IQA datasets, reproducible through split files.

Synthetic datasets (references with distorted copies) are split by reference, so that no
reference image has versions on both sides; authentic datasets are split by image. Each of
the ``n`` splits is drawn from ``numpy.random.default_rng([seed, k])``. Split files are JSON::

    {"format": "rankiqa-splits", "version": 1, "dataset": "clive", "count": 704,
     "fingerprint": "<sha256 of the image paths>", "by_reference": false, "test_fraction": 0.2,
     "seed": 0, "splits": [{"seed": 0, "index": 0, "train": [...], "test": [...]}, ...]}

Indices refer to the order of the loader's records; the fingerprint guards against a split
file being applied to another dataset (or another version of it).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_text_atomic
from rankiqa.data.iqa.records import IQATable

FORMAT = "rankiqa-splits"
VERSION = 1


@dataclass(frozen=True)
class Split:
    """One train/test partition (indices into the table's records)."""

    train: tuple[int, ...]
    test: tuple[int, ...]
    index: int = 0
    seed: int = 0
    val: tuple[int, ...] = field(default_factory=tuple)  #: official validation part, if any
    lockbox: bool = False  #: the test part is a lockbox: score it once per final candidate


def fingerprint(table: IQATable) -> str:
    """SHA-256 of the records' paths relative to the root (POSIX, lower-case)."""
    h = hashlib.sha256()
    for record in table.records:
        try:
            rel = record.path.relative_to(table.root)
        except ValueError:
            rel = record.path
        h.update(rel.as_posix().lower().encode() + b"\n")
    return h.hexdigest()


def random_splits(
    table: IQATable,
    n: int = 10,
    test_fraction: float = 0.2,
    seed: int = 0,
    by_reference: bool | None = None,
) -> list[Split]:
    """``n`` random splits; by reference when ``by_reference`` (default: synthetic datasets)."""
    if not 0.0 < test_fraction < 1.0:
        raise UserError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    if n < 1:
        raise UserError(f"--splits must be at least 1, got {n}")
    if by_reference is None:
        by_reference = table.synthetic
    if by_reference:
        refs = table.references
        if any(r is None for r in refs):
            raise UserError(f"{table.name}: not every image has a reference; split by image")
        groups = sorted(set(refs))  # type: ignore[arg-type]
    else:
        groups = list(range(len(table)))
    if len(groups) < 2:
        raise UserError(
            f"{table.name}: need at least two {'references' if by_reference else 'images'} to split"
        )
    n_test = min(len(groups) - 1, max(1, round(test_fraction * len(groups))))
    splits = []
    for k in range(n):
        order = np.random.default_rng([seed, k]).permutation(len(groups))
        test_groups = {groups[i] for i in order[:n_test]}
        if by_reference:
            test = [i for i, r in enumerate(table.references) if r in test_groups]
        else:
            test = sorted(test_groups)  # type: ignore[arg-type]
        test_set = set(test)
        train = [i for i in range(len(table)) if i not in test_set]
        splits.append(Split(tuple(train), tuple(test), index=k, seed=seed))
    return splits


def lockbox_splits(
    table: IQATable, lockbox: int = 200, folds: int = 5, seed: int = 0
) -> list[Split]:
    """A lockbox protocol: ``folds`` cross-validation splits of the images outside a fixed
    lockbox, then one split that trains on all of them and tests on the lockbox.

    The lockbox is the first ``lockbox`` images of ``default_rng([seed, 99_991])``'s
    permutation (by reference for synthetic datasets); the remaining images are dealt into
    ``folds`` parts by ``default_rng([seed, 99_992])``. Splits ``0 .. folds-1`` are the
    cross-validation folds (every choice is made on them); split ``folds`` has
    ``lockbox=True`` and is scored once per final candidate.

    ``lockbox=0``: plain ``folds``-fold cross-validation of every image (no lockbox split),
    e.g. to train one model per fold on all the data and average them.

    Examples
    --------
    >>> from pathlib import Path
    >>> from rankiqa.data.iqa.records import IQARecord, IQATable
    >>> records = tuple(IQARecord(Path(f"{i}.png"), float(i), float(i)) for i in range(30))
    >>> table = IQATable("toy", Path("."), records, "higher", (0.0, 30.0), synthetic=False)
    >>> splits = lockbox_splits(table, lockbox=10, folds=4)
    >>> [(len(s.train), len(s.test), s.lockbox) for s in splits]
    [(15, 5, False), (15, 5, False), (15, 5, False), (15, 5, False), (20, 10, True)]
    >>> [(len(s.train), len(s.test)) for s in lockbox_splits(table, lockbox=0, folds=3)]
    [(20, 10), (20, 10), (20, 10)]
    """
    if folds < 2:
        raise UserError(f"--folds must be at least 2, got {folds}")
    by_reference = table.synthetic
    if by_reference and any(r is None for r in table.references):
        by_reference = False
    groups: list = sorted(set(table.references)) if by_reference else list(range(len(table)))
    if not 0 <= lockbox <= len(groups) - folds:
        raise UserError(
            f"--lockbox must be between 0 and {len(groups) - folds} for {table.name}, got {lockbox}"
        )
    order = np.random.default_rng([seed, 99_991]).permutation(len(groups))
    boxed = {groups[i] for i in order[:lockbox]}
    rest = [groups[i] for i in sorted(order[lockbox:])]
    fold_of = {
        g: k % folds
        for k, g in zip(
            np.random.default_rng([seed, 99_992]).permutation(len(rest)), rest, strict=True
        )
    }
    key = (lambda i: table.references[i]) if by_reference else (lambda i: i)
    inside = [i for i in range(len(table)) if key(i) not in boxed]
    splits = [
        Split(
            tuple(i for i in inside if fold_of[key(i)] != k),
            tuple(i for i in inside if fold_of[key(i)] == k),
            index=k,
            seed=seed,
        )
        for k in range(folds)
    ]
    if not lockbox:
        return splits
    box = tuple(i for i in range(len(table)) if key(i) in boxed)
    splits.append(Split(tuple(inside), box, index=folds, seed=seed, lockbox=True))
    return splits


def carve_validation(
    table: IQATable,
    train: tuple[int, ...] | list[int],
    fraction: float = 0.2,
    seed: int = 0,
    by_reference: bool | None = None,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split a training part into ``(train, validation)`` for model selection.

    ``fraction`` of the training part's references (synthetic datasets) or images (authentic
    ones) is held out, drawn from ``numpy.random.default_rng([seed, 1_000_003])``; at least one
    unit stays on each side. The test part is never touched.

    """
    if not 0.0 < fraction < 1.0:
        raise UserError(f"--val-fraction must be between 0 and 1, got {fraction}")
    train = tuple(int(i) for i in train)
    if by_reference is None:
        by_reference = table.synthetic and all(table.references[i] for i in train)
    if by_reference:
        groups: list = sorted({table.references[i] for i in train})
    else:
        groups = list(train)
    if len(groups) < 2:
        raise UserError(
            f"{table.name}: the training part has fewer than two "
            f"{'references' if by_reference else 'images'}; cannot hold out a validation part"
        )
    n_val = min(len(groups) - 1, max(1, round(fraction * len(groups))))
    order = np.random.default_rng([seed, 1_000_003]).permutation(len(groups))
    held = {groups[i] for i in order[:n_val]}
    key = (lambda i: table.references[i]) if by_reference else (lambda i: i)
    return (
        tuple(i for i in train if key(i) not in held),
        tuple(i for i in train if key(i) in held),
    )


def official_split(table: IQATable) -> Split:
    """The dataset's official split (KonIQ-10k: ``training`` / ``validation`` / ``test``)."""
    parts = table.official_split
    if not parts:
        raise UserError(f"{table.name}: this dataset (or its files) has no official split")
    train = parts.get("training") or parts.get("train") or ()
    test = parts.get("test") or ()
    if not train or not test:
        raise UserError(f"{table.name}: the official split has no training or no test part")
    return Split(tuple(train), tuple(test), val=tuple(parts.get("validation") or ()))


def save_splits(path: str | os.PathLike, table: IQATable, splits: list[Split], **info) -> Path:
    """Write ``splits`` of ``table`` to a JSON split file (atomically)."""
    data = {
        "format": FORMAT,
        "version": VERSION,
        "dataset": table.name,
        "count": len(table),
        "fingerprint": fingerprint(table),
        **info,
        "splits": [
            {
                "index": s.index,
                "seed": s.seed,
                "train": list(s.train),
                "test": list(s.test),
                **({"val": list(s.val)} if s.val else {}),
                **({"lockbox": True} if s.lockbox else {}),
            }
            for s in splits
        ],
    }
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")
    return Path(path)


def load_splits(path: str | os.PathLike, table: IQATable | None = None) -> list[Split]:
    """Read a split file; with ``table`` check that it was made for that dataset."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: split file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable split file ({exc})") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or not isinstance(data.get("splits"), list)
    ):
        raise UserError(f"{path}: not a rankiqa split file (missing format {FORMAT!r})")
    count = data.get("count")
    if table is not None:
        if count != len(table):
            raise UserError(
                f"{path}: made for {count} images of {data.get('dataset')!r}, the dataset has {len(table)}"
            )
        if data.get("fingerprint") not in (None, fingerprint(table)):
            raise UserError(
                f"{path}: made for other image files (fingerprint mismatch; dataset {data.get('dataset')!r})"
            )
    splits = []
    for k, item in enumerate(data["splits"]):
        try:
            train, test = tuple(int(i) for i in item["train"]), tuple(int(i) for i in item["test"])
            val = tuple(int(i) for i in item.get("val", ()))
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{path}: split {k} lacks integer 'train'/'test' lists") from None
        bad = [i for i in (*train, *test, *val) if not 0 <= i < int(count or 0)]
        if bad:
            raise UserError(
                f"{path}: split {k} has index {bad[0]} outside 0..{int(count or 0) - 1}"
            )
        if set(train) & set(test):
            raise UserError(f"{path}: split {k} has images on both the train and the test side")
        splits.append(
            Split(
                train,
                test,
                index=int(item.get("index", k)),
                seed=int(item.get("seed", 0)),
                val=val,
                lockbox=bool(item.get("lockbox", False)),
            )
        )
    if not splits:
        raise UserError(f"{path}: no splits")
    return splits


def select_split(splits: list[Split], index: int, path: str | os.PathLike = "split file") -> Split:
    """Split ``index`` of ``splits`` read from ``path``; a :class:`UserError` when out of range."""
    if not 0 <= index < len(splits):
        raise UserError(f"--split-index {index}: {path} has splits 0..{len(splits) - 1}")
    return splits[index]


def choose_splits(
    table: IQATable,
    split_file: str | os.PathLike | None = None,
    split_index: int | str | None = "all",
    official: bool = False,
) -> list[Split] | None:
    """The splits an evaluation or a fine-tuning run uses (``--split-file`` / ``--split-index``
    / ``--official-split``); ``None`` when none is asked for.

    ``split_index`` is a split number or ``"all"`` / ``None`` (every split of the file).

    Raises
    ------
    UserError
        Both a split file and the official split; a bad index; a file not made for ``table``.
    """
    if split_file and official:
        raise UserError("give either --split-file or --official-split")
    if split_file:
        splits = load_splits(split_file, table)
        if split_index is None or str(split_index) == "all":
            return splits
        try:
            k = int(split_index)
        except ValueError:
            raise UserError(f"--split-index: expected K or all, got {split_index!r}") from None
        return [select_split(splits, k, split_file)]
    if official:
        return [official_split(table)]
    return None


def make_splits(
    table: IQATable,
    n: int = 10,
    test_fraction: float = 0.2,
    seed: int = 0,
    by_reference: bool | None = None,
    official: bool = False,
    lockbox: int = 0,
    folds: int | None = None,
) -> tuple[list[Split], dict[str, Any]]:
    """The splits of ``rankiqa datasets --make-splits`` and the info stored with them:
    the official split, a lockbox protocol (``lockbox`` > 0: :func:`lockbox_splits`, ``folds``
    cross-validation folds of the rest, 5 if ``None``), ``folds``-fold cross-validation of
    every image (``folds`` given, ``lockbox`` 0), or ``n`` random ones (by reference for
    synthetic datasets unless ``by_reference`` says otherwise).
    Write them with :func:`save_splits`."""
    if official:
        return [official_split(table)], {"official": True}
    if lockbox or folds is not None:
        folds = 5 if folds is None else folds
        return lockbox_splits(table, lockbox, folds, seed), {
            "seed": seed,
            "lockbox": lockbox,
            "folds": folds,
        }
    splits = random_splits(table, n, test_fraction, seed, by_reference)
    info = {
        "seed": seed,
        "test_fraction": test_fraction,
        "by_reference": table.synthetic if by_reference is None else by_reference,
    }
    return splits, info
