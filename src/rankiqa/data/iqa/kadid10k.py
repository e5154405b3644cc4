"""KADID-10k (Lin et al. 2019): ``dmos.csv`` and ``images/``."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

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

KADID_TYPES = {
    "01": "Gaussian blur",
    "02": "lens blur",
    "03": "motion blur",
    "04": "colour diffusion",
    "05": "colour shift",
    "06": "colour quantization",
    "07": "colour saturation 1",
    "08": "colour saturation 2",
    "09": "JPEG2000",
    "10": "JPEG",
    "11": "white noise",
    "12": "white noise in colour component",
    "13": "impulse noise",
    "14": "multiplicative noise",
    "15": "denoise",
    "16": "brighten",
    "17": "darken",
    "18": "mean shift",
    "19": "jitter",
    "20": "non-eccentricity patch",
    "21": "pixelate",
    "22": "quantization",
    "23": "colour block",
    "24": "high sharpen",
    "25": "contrast change",
}


def load_kadid10k(root: Path, verify: bool = True) -> IQATable:
    """KADID-10k: ``dmos.csv`` (``dist_img,ref_img,dmos,var``), images in ``images/``.

    Despite its name the ``dmos`` column is a MOS on 1–5, higher is better.
    """
    resolver = Resolver(root, verify)
    path = find_file(root, "dmos.csv")
    rows = []
    for where, row in csv_rows(path):
        require_columns(path, row, "dist_img", "ref_img", "dmos")
        name = row["dist_img"]
        match = re.match(r"^i(\d+)_(\d\d)_(\d\d)\.png$", name, re.IGNORECASE)
        if not match:
            resolver(name, where)  # refuses escaping names first
            raise UserError(f"{where}: image name {name!r} is not like I01_01_01.png")
        image = resolver(f"images/{name}", where)
        ref = PurePosixPath(row["ref_img"]).stem
        rows.append((image, parse_float(row["dmos"], where), ref, match.group(2)))
    return make_table("kadid10k", root, rows, 1.0, 5.0, True, True, KADID_TYPES, source=path)
