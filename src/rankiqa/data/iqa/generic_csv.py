"""Any dataset given as a CSV ``path,score[,reference][,distortion]`` (``--dataset csv``)."""

from __future__ import annotations

from pathlib import Path

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.records import IQATable
from rankiqa.data.iqa.score_files import (
    Resolver,
    csv_rows,
    make_table,
    need_file,
    parse_float,
    require_columns,
)


def load_csv(
    root: Path,
    verify: bool = True,
    direction: str = "higher",
    score_range: tuple[float, float] | None = None,
    synthetic: bool | None = None,
) -> IQATable:
    """A generic CSV ``path,score[,reference][,distortion]`` with a header row.

    ``root`` is the CSV file (image paths relative to its folder) or a folder holding
    ``scores.csv``. ``direction`` says whether a higher raw score is better (``higher``) or
    worse (``lower``, DMOS); ``score_range`` is the nominal (lo, hi) — by default the
    observed min and max. The dataset counts as synthetic when it has a reference column.
    """
    if direction not in ("higher", "lower"):
        raise UserError(f"--direction must be 'higher' or 'lower', not {direction!r}")
    path = root if root.suffix.lower() == ".csv" else root / "scores.csv"
    need_file(path)
    resolver = Resolver(path.parent, verify)
    rows = []
    has_ref = False
    for where, row in csv_rows(path):
        require_columns(path, row, "path", "score")
        ref = row.get("reference") or None
        has_ref = has_ref or ref is not None
        rows.append(
            (
                resolver(row["path"], where),
                parse_float(row["score"], where),
                ref,
                row.get("distortion") or None,
            )
        )
    if not rows:
        raise UserError(f"{path}: no rated images found")
    scores = [s for _, s, _, _ in rows]
    lo, hi = score_range if score_range is not None else (min(scores), max(scores))
    if not hi > lo:
        raise UserError(f"{path}: score range {lo}..{hi} is empty; give --score-range LO,HI")
    types = {d: d for _, _, _, d in rows if d}
    return make_table(
        "csv",
        path.parent,
        rows,
        float(lo),
        float(hi),
        direction == "higher",
        has_ref if synthetic is None else synthetic,
        types,
        source=path,
    )
