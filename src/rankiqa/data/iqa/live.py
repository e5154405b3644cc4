"""LIVE IQA Release 2 (Sheikh et al. 2006): DMOS in MATLAB files, five folders of distorted images."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.records import IQATable
from rankiqa.data.iqa.score_files import (
    Resolver,
    find_file,
    load_mat,
    make_table,
    mat_strings,
    mat_var,
    parse_float,
)

#: LIVE Release 2: folders in the order the DMOS vector concatenates them, and their sizes.
LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))


def load_live(root: Path, verify: bool = True, include_references: bool = False) -> IQATable:
    """LIVE IQA Release 2: ``dmos_realigned.mat`` (``dmos_new``, ``orgs``) or ``dmos.mat``
    (``dmos``, ``orgs``) and ``refnames_all.mat``; images ``<folder>/img<i>.bmp``.

    DMOS on 0–100 (lower is better, flipped to the 0–100 target). Entries with ``orgs == 1``
    are copies of the reference images and are left out unless ``include_references``.
    """
    resolver = Resolver(root, verify)
    realigned = root / "dmos_realigned.mat"
    if realigned.is_file():
        mat_path = realigned
        mat = load_mat(realigned)
        dmos = mat_var(mat, realigned, "dmos_new", "dmos")
    else:
        mat_path = find_file(root, "dmos_realigned.mat", "dmos.mat")
        mat = load_mat(mat_path)
        dmos = mat_var(mat, mat_path, "dmos")
    dmos = dmos.astype(np.float64).ravel()
    orgs = mat_var(mat, mat_path, "orgs").astype(np.int64).ravel()
    refs_path = root / "refnames_all.mat"
    refnames = mat_strings(mat_var(load_mat(refs_path), refs_path, "refnames_all"))
    total = sum(n for _, n in LIVE_FOLDERS)
    for what, arr, src in (
        ("DMOS", dmos, mat_path),
        ("orgs", orgs, mat_path),
        ("refnames", refnames, refs_path),
    ):
        if len(arr) != total:
            raise UserError(f"{src}: {what} has {len(arr)} entries, LIVE Release 2 has {total}")
    rows = []
    index = 0
    for folder, count in LIVE_FOLDERS:
        for i in range(1, count + 1):
            where = f"{mat_path} entry {index + 1}"
            if include_references or orgs[index] == 0:
                score = parse_float(dmos[index], where, "DMOS")
                path = resolver(f"{folder}/img{i}.bmp", where)
                ref = PurePosixPath(refnames[index].replace("\\", "/")).stem
                rows.append((path, score, ref, folder))
            index += 1
    types = {
        "jp2k": "JPEG2000",
        "jpeg": "JPEG",
        "wn": "white noise",
        "gblur": "Gaussian blur",
        "fastfading": "fast fading (JPEG2000 bit errors)",
    }
    return make_table("live", root, rows, 0.0, 100.0, False, True, types, source=mat_path)
