"""The dataset loaders by name (``--dataset``, ``rankiqa datasets``) and :func:`load_iqa_dataset`.

Every loader reads its dataset's files as officially distributed and returns an
:class:`~rankiqa.data.iqa.records.IQATable`.

>>> DATASETS["tid2013"].scores
'MOS 0-9, higher is better'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.clive import load_clive
from rankiqa.data.iqa.csiq import load_csiq
from rankiqa.data.iqa.generic_csv import load_csv
from rankiqa.data.iqa.kadid10k import load_kadid10k
from rankiqa.data.iqa.koniq10k import load_koniq10k
from rankiqa.data.iqa.live import load_live
from rankiqa.data.iqa.livemd import load_livemd
from rankiqa.data.iqa.records import IQATable
from rankiqa.data.iqa.tid import load_tid2008, load_tid2013


@dataclass(frozen=True)
class DatasetInfo:
    """A loader and how its files are laid out (shown by ``rankiqa datasets``)."""

    name: str
    title: str
    kind: str  #: "synthetic" or "authentic"
    scores: str
    layout: str
    loader: Callable[..., IQATable]


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "tid2013",
            "TID2013 (Ponomarenko et al. 2015)",
            "synthetic",
            "MOS 0-9, higher is better",
            "ROOT/mos_with_names.txt (or mos.txt in the official order), ROOT/distorted_images/i01_01_1.bmp ...",
            load_tid2013,
        ),
        DatasetInfo(
            "tid2008",
            "TID2008 (Ponomarenko et al. 2009)",
            "synthetic",
            "MOS 0-9, higher is better",
            "ROOT/mos_with_names.txt (or mos.txt), ROOT/distorted_images/i01_01_1.bmp ...",
            load_tid2008,
        ),
        DatasetInfo(
            "live",
            "LIVE IQA Release 2 (Sheikh et al. 2006)",
            "synthetic",
            "DMOS 0-100, lower is better",
            "ROOT/dmos_realigned.mat (or dmos.mat), ROOT/refnames_all.mat, ROOT/{jp2k,jpeg,wn,gblur,fastfading}/img<i>.bmp",
            load_live,
        ),
        DatasetInfo(
            "livemd",
            "LIVE Multiply Distorted (Jayaraman et al. 2012)",
            "synthetic",
            "DMOS 0-100, lower is better",
            "ROOT[/To_Release]/Part 1/{Imagelists.mat,Scores.mat,blurjpeg/<ref>_blur2_jpeg1.bmp ...}, "
            "ROOT[/To_Release]/Part 2/{Imagelists.mat,Scores.mat,blurnoise/<ref>_noise3.bmp ...} "
            "(also Part_1 or Part1)",
            load_livemd,
        ),
        DatasetInfo(
            "csiq",
            "CSIQ (Larson & Chandler 2010)",
            "synthetic",
            "DMOS 0-1, lower is better",
            "ROOT/csiq.DMOS.xlsx (or csiq_dmos.txt), ROOT/dst_imgs/<type>/<image>.<TAG>.<level>.png",
            load_csiq,
        ),
        DatasetInfo(
            "kadid10k",
            "KADID-10k (Lin et al. 2019)",
            "synthetic",
            "MOS 1-5 (column 'dmos'), higher is better",
            "ROOT/dmos.csv, ROOT/images/I01_01_01.png ...",
            load_kadid10k,
        ),
        DatasetInfo(
            "koniq10k",
            "KonIQ-10k (Hosu et al. 2020)",
            "authentic",
            "MOS 1-5 (or 1-100 in the sets file), higher is better",
            "ROOT/koniq10k_scores_and_distributions.csv and/or koniq10k_distributions_sets.csv, ROOT/1024x768/<name>.jpg",
            load_koniq10k,
        ),
        DatasetInfo(
            "clive",
            "LIVE In the Wild Image Quality Challenge (Ghadiyaram & Bovik 2016)",
            "authentic",
            "MOS 0-100, higher is better",
            "ROOT/Data/AllImages_release.mat, ROOT/Data/AllMOS_release.mat, ROOT/Images/<name>, ROOT/Images/trainingImages/t1.bmp ...",
            load_clive,
        ),
        DatasetInfo(
            "csv",
            "generic CSV",
            "either",
            "any; --direction higher|lower, --score-range LO,HI",
            "ROOT = scores CSV (or a folder with scores.csv): header path,score[,reference][,distortion]; paths relative to the CSV",
            load_csv,
        ),
    )
}


def load_iqa_dataset(
    name: str, root: str | os.PathLike, verify: bool = True, **options: Any
) -> IQATable:
    """Load dataset ``name`` (see :data:`DATASETS`) from ``root``; options go to its loader."""
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    root = Path(root)
    if not root.exists():
        raise UserError(f"{root}: dataset root not found")
    options = {k: v for k, v in options.items() if v is not None}
    return DATASETS[name].loader(root, verify=verify, **options)
