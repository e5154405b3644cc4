"""TID2013 and TID2008 (Ponomarenko et al.): ``mos_with_names.txt`` or ``mos.txt`` and
``distorted_images/``.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.records import IQATable
from rankiqa.data.iqa.score_files import Resolver, find_file, make_table, parse_float, text_lines

TID2013_TYPES = {
    "01": "additive Gaussian noise",
    "02": "additive noise in colour components",
    "03": "spatially correlated noise",
    "04": "masked noise",
    "05": "high frequency noise",
    "06": "impulse noise",
    "07": "quantization noise",
    "08": "Gaussian blur",
    "09": "image denoising",
    "10": "JPEG compression",
    "11": "JPEG2000 compression",
    "12": "JPEG transmission errors",
    "13": "JPEG2000 transmission errors",
    "14": "non eccentricity pattern noise",
    "15": "local block-wise distortions",
    "16": "mean shift (intensity shift)",
    "17": "contrast change",
    "18": "change of colour saturation",
    "19": "multiplicative Gaussian noise",
    "20": "comfort noise",
    "21": "lossy compression of noisy images",
    "22": "colour quantization with dither",
    "23": "chromatic aberrations",
    "24": "sparse sampling and reconstruction",
}
TID2008_TYPES = {k: v for k, v in TID2013_TYPES.items() if int(k) <= 17}


_TID_NAME = re.compile(r"^i(\d\d)_(\d\d)_(\d)\.bmp$", re.IGNORECASE)


def _load_tid(name: str, root: Path, verify: bool, n_refs: int, types: dict[str, str]) -> IQATable:
    resolver = Resolver(root, verify)
    rows = []
    try:
        scores_path = find_file(root, "mos_with_names.txt")
        named = True
    except UserError:
        named = False
        scores_path = find_file(root, "mos_with_names.txt", "mos.txt")
    if named:
        entries = []
        for number, line in text_lines(scores_path):
            parts = line.split()
            where = f"{scores_path}:{number}"
            if len(parts) != 2:
                raise UserError(f"{where}: expected 'MOS NAME', got {line!r}")
            entries.append((parse_float(parts[0], where), parts[1], where))
    else:
        names = [
            f"i{r:02d}_{t:02d}_{level}.bmp"
            for r in range(1, n_refs + 1)
            for t in range(1, len(types) + 1)
            for level in range(1, (5 if name == "tid2013" else 4) + 1)
        ]
        lines = list(text_lines(scores_path))
        if len(lines) != len(names):
            raise UserError(
                f"{scores_path}: {len(lines)} scores but {name} has {len(names)} images "
                "(or use mos_with_names.txt)"
            )
        entries = []
        for (number, line), image in zip(lines, names, strict=True):
            where = f"{scores_path}:{number}"
            parts = line.split()
            if len(parts) != 1:
                raise UserError(f"{where}: expected one MOS value, got {line!r}")
            entries.append((parse_float(parts[0], where), image, where))
    for score, image, where in entries:
        match = _TID_NAME.match(PurePosixPath(image.replace("\\", "/")).name)
        if not match or PurePosixPath(image).name != image:
            if "/" in image or "\\" in image or image.startswith(".."):
                resolver(image, where)  # raises for escaping names
            raise UserError(f"{where}: image name {image!r} is not like i01_01_1.bmp")
        ref, dtype, _ = match.groups()
        if dtype not in types:
            raise UserError(f"{where}: distortion type {dtype} is not one of {name}'s")
        path = resolver(f"distorted_images/{image}", where)
        rows.append((path, score, f"i{ref}", dtype))
    return make_table(name, root, rows, 0.0, 9.0, True, True, types, source=scores_path)


def load_tid2013(root: Path, verify: bool = True) -> IQATable:
    """TID2013: ``mos_with_names.txt`` (or ``mos.txt`` in the official order) + ``distorted_images/``.

    MOS on 0–9, higher is better; reference ``i01``…``i25``, distortion type ``01``…``24``.
    """
    return _load_tid("tid2013", root, verify, 25, TID2013_TYPES)


def load_tid2008(root: Path, verify: bool = True) -> IQATable:
    """TID2008: like TID2013 with 17 distortion types and 4 levels."""
    return _load_tid("tid2008", root, verify, 25, TID2008_TYPES)
