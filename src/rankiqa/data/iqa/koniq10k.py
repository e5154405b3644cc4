"""KonIQ-10k (Hosu et al. 2020): the scores CSV and/or the sets CSV (official split), images."""

from __future__ import annotations

from pathlib import Path

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.records import IQATable
from rankiqa.data.iqa.score_files import (
    Resolver,
    csv_rows,
    find_file,
    make_table,
    parse_float,
    require_columns,
)


def load_koniq10k(root: Path, verify: bool = True, image_dir: str | None = None) -> IQATable:
    """KonIQ-10k: ``koniq10k_scores_and_distributions.csv`` (MOS on 1–5) or
    ``koniq10k_distributions_sets.csv`` (MOS on 1–100, plus the official ``set`` column);
    images in ``1024x768/`` (or ``512x384/``, or ``image_dir``). Higher is better.

    When the ``set`` column is present the table carries the official split
    (``training``/``validation``/``test``).
    """
    resolver = Resolver(root, verify)
    if image_dir is None:
        image_dir = "1024x768"
        if not (root / image_dir).is_dir() and (root / "512x384").is_dir():
            image_dir = "512x384"
    sets_path = Resolver(root, False)("koniq10k_distributions_sets.csv", str(root))
    scores_path = Resolver(root, False)("koniq10k_scores_and_distributions.csv", str(root))
    if scores_path.is_file():
        path, lo, hi = scores_path, 1.0, 5.0
    else:
        path, lo, hi = (
            find_file(
                root, "koniq10k_scores_and_distributions.csv", "koniq10k_distributions_sets.csv"
            ),
            1.0,
            100.0,
        )
    rows = []
    index_of: dict[str, int] = {}
    for where, row in csv_rows(path):
        require_columns(path, row, "image_name", "mos")
        name = row["image_name"]
        if "/" in name or "\\" in name or name.startswith(".."):
            resolver(name, where)
        index_of[name] = len(rows)
        rows.append(
            (resolver(f"{image_dir}/{name}", where), parse_float(row["mos"], where), None, None)
        )
    official = None
    if sets_path.is_file():
        parts: dict[str, list[int]] = {}
        for where, row in csv_rows(sets_path):
            require_columns(sets_path, row, "image_name", "set")
            if row["image_name"] not in index_of:
                raise UserError(f"{where}: image {row['image_name']!r} is not in {path.name}")
            parts.setdefault(row["set"].lower(), []).append(index_of[row["image_name"]])
        official = {k: tuple(v) for k, v in parts.items()}
    return make_table(
        "koniq10k", root, rows, lo, hi, True, False, official_split=official, source=path
    )
