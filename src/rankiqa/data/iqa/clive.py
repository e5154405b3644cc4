"""LIVE In the Wild Image Quality Challenge (Ghadiyaram & Bovik 2016): MOS in MATLAB files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.records import IQATable
from rankiqa.data.iqa.score_files import (
    Resolver,
    load_mat,
    make_table,
    mat_strings,
    mat_var,
    parse_float,
)


def load_clive(root: Path, verify: bool = True) -> IQATable:
    """LIVE In the Wild Image Quality Challenge: ``Data/AllImages_release.mat`` and
    ``Data/AllMOS_release.mat``; images in ``Images/`` except the 7 training images
    (``t1.bmp``…``t7.bmp``, index < 7), which are in ``Images/trainingImages/``. MOS on 0–100.
    """
    resolver = Resolver(root, verify)
    names_path = root / "Data" / "AllImages_release.mat"
    mos_path = root / "Data" / "AllMOS_release.mat"
    names = mat_strings(mat_var(load_mat(names_path), names_path, "AllImages_release"))
    mos = mat_var(load_mat(mos_path), mos_path, "AllMOS_release").astype(np.float64).ravel()
    if len(names) != len(mos):
        raise UserError(
            f"{mos_path}: {len(mos)} scores for {len(names)} images in {names_path.name}"
        )
    rows = []
    for i, (name, score) in enumerate(zip(names, mos, strict=True)):
        where = f"{names_path} entry {i + 1}"
        folder = "Images/trainingImages" if i < 7 else "Images"
        if "/" in name or "\\" in name or name.startswith(".."):
            resolver(name, where)
        rows.append(
            (
                resolver(f"{folder}/{name}", where),
                parse_float(score, f"{mos_path} entry {i + 1}"),
                None,
                None,
            )
        )
    return make_table("clive", root, rows, 0.0, 100.0, True, False, source=mos_path)
