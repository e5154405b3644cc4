"""LIVE Multiply Distorted (Jayaraman et al. 2012): two parts (blur then JPEG, blur then noise)."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

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

#: LIVE MD parts: part number -> (image folder, second distortion after blur)
LIVEMD_PARTS = {1: ("blurjpeg", "jpeg"), 2: ("blurnoise", "noise")}
LIVEMD_TYPES = {
    "blur": "Gaussian blur",
    "jpeg": "JPEG compression",
    "noise": "white Gaussian noise",
}
_LIVEMD_NAME = re.compile(
    r"^(?P<ref>.+?)_(?P<dist>blur(?P<b>\d+)_(?P<kind>jpeg|noise)(?P<k>\d+)|(?P<single>blur|jpeg|noise)(?P<s>\d+))\.[^./\\]+$",
    re.IGNORECASE,
)


def _livemd_part_dir(root: Path, part: int) -> Path:
    """``[To_Release/]Part <n>`` (also ``Part_<n>``, ``Part<n>``, any case) under ``root``."""
    if not root.is_dir():
        raise UserError(f"{root}: not a folder (expected the LIVE MD release folder)")
    spelling = re.compile(rf"^part[ _]?{part}$", re.IGNORECASE)
    bases = [root / n for n in sorted(os.listdir(root)) if n.lower() == "to_release"]
    for base in [*bases, root]:
        if not base.is_dir():
            continue
        for name in sorted(os.listdir(base)):
            if spelling.match(name) and (base / name).is_dir():
                return base / name
    raise UserError(
        f"{root}: folder 'Part {part}' not found (looked for 'Part {part}', 'Part_{part}' and "
        f"'Part{part}' in {root} and {root / 'To_Release'})"
    )


def livemd_distortion(name: str) -> tuple[str, str, dict[str, int]] | None:
    """Parse a LIVE MD image name into (reference, label, {distortion: level}); ``None`` if
    it is not like ``<ref>_blur2_jpeg1.bmp`` / ``<ref>_noise3.bmp``.

    >>> livemd_distortion("bikes_blur2_jpeg1.bmp")
    ('bikes', 'blur2_jpeg1', {'blur': 2, 'jpeg': 1})
    """
    match = _LIVEMD_NAME.match(name)
    if not match:
        return None
    if match["single"]:
        levels = {match["single"].lower(): int(match["s"])}
    else:
        levels = {"blur": int(match["b"]), match["kind"].lower(): int(match["k"])}
    return match["ref"], match["dist"].lower(), levels


def _livemd_label_name(label: str) -> str:
    parsed = livemd_distortion(f"x_{label}.bmp")
    assert parsed is not None
    return ", then ".join(f"{LIVEMD_TYPES[k]} level {v}" for k, v in parsed[2].items())


def load_livemd(root: Path, verify: bool = True, include_references: bool = False) -> IQATable:
    """LIVE Multiply Distorted (Jayaraman et al. 2012): ``[To_Release/]Part 1/`` (blur then
    JPEG, images in ``blurjpeg/``) and ``Part 2/`` (blur then white noise, ``blurnoise/``),
    each with ``Imagelists.mat`` (``distimgs``, ``refimgs``, ``ref4dist``) and ``Scores.mat``
    (``DMOSscores``). Part folders may also be spelled ``Part_1`` or ``Part1``.

    DMOS on 0–100, lower is better. The reference is the ``refimgs`` entry that ``ref4dist``
    points to (its name must start the image's name); the distortion label is read from the
    image's name (``bikes_blur2_jpeg1.bmp`` -> ``blur2_jpeg1``). The pristine references
    (``<part>/<folder>/<refimgs entry>``) are left out unless ``include_references``; they
    then come once per part with DMOS 0 and the label ``pristine``.

    >>> table = load_iqa_dataset("livemd", "To_Release")  # doctest: +SKIP
    >>> len(table), table.records[0].distortion  # doctest: +SKIP
    (450, 'blur1')
    """
    resolver = Resolver(root, verify)
    rows: list[tuple[Path, float, str | None, str | None]] = []
    labels: dict[str, str] = {"pristine": "reference (undistorted)"} if include_references else {}
    for part, (folder, second) in LIVEMD_PARTS.items():
        part_dir = _livemd_part_dir(root, part)
        rel = part_dir.relative_to(root).as_posix()
        lists_path = Resolver(part_dir, False)("Imagelists.mat", str(part_dir))
        scores_path = Resolver(part_dir, False)("Scores.mat", str(part_dir))
        lists = load_mat(lists_path)
        names = mat_strings(mat_var(lists, lists_path, "distimgs"))
        refnames = mat_strings(mat_var(lists, lists_path, "refimgs"))
        ref4dist = mat_var(lists, lists_path, "ref4dist").ravel().tolist()
        dmos = mat_var(load_mat(scores_path), scores_path, "DMOSscores").ravel().tolist()
        if len(ref4dist) != len(names):
            raise UserError(
                f"{lists_path}: ref4dist has {len(ref4dist)} entries for {len(names)} distimgs"
            )
        if len(dmos) != len(names):
            raise UserError(
                f"{scores_path}: DMOSscores has {len(dmos)} entries for {len(names)} "
                f"distimgs in {lists_path.name}"
            )
        refs = [PurePosixPath(r.strip().replace("\\", "/")).stem for r in refnames]
        seen: dict[str, int] = {}
        for i, (name, index, score) in enumerate(zip(names, ref4dist, dmos, strict=True)):
            where = f"{lists_path} entry {i + 1}"
            name = name.strip()
            if "/" in name or "\\" in name or name.startswith(".."):
                resolver(name, where)  # refuses escaping names
            parsed = livemd_distortion(name)
            if parsed is None:
                raise UserError(
                    f"{where}: image name {name!r} is not like <ref>_blur2_{second}1.bmp"
                )
            prefix, label, levels = parsed
            if set(levels) - {"blur", second}:
                raise UserError(
                    f"{where}: image {name!r} has a distortion that Part {part} (blur, then "
                    f"{LIVEMD_TYPES[second]}) does not contain"
                )
            ref_index = parse_float(index, where, "ref4dist")
            if not ref_index.is_integer() or not 1 <= ref_index <= len(refs):
                raise UserError(
                    f"{where}: ref4dist {index!r} is not an index into the {len(refs)} refimgs"
                )
            reference = refs[int(ref_index) - 1]
            if prefix.lower() != reference.lower():
                raise UserError(
                    f"{where}: image {name!r} is named after reference {prefix!r} but ref4dist "
                    f"points to {refnames[int(ref_index) - 1]!r}"
                )
            if name.lower() in seen:
                raise UserError(f"{where}: image {name!r} is also entry {seen[name.lower()]}")
            seen[name.lower()] = i + 1
            path = resolver(f"{rel}/{folder}/{name}", where)
            rows.append(
                (path, parse_float(score, f"{scores_path} entry {i + 1}", "DMOS"), reference, label)
            )
            labels.setdefault(label, _livemd_label_name(label))
        if include_references:
            for j, refname in enumerate(refnames):
                where = f"{lists_path} refimgs entry {j + 1}"
                if "/" in refname or "\\" in refname or refname.startswith(".."):
                    resolver(refname, where)
                rows.append(
                    (resolver(f"{rel}/{folder}/{refname.strip()}", where), 0.0, refs[j], "pristine")
                )
    types = {k: labels[k] for k in sorted(labels)}
    return make_table("livemd", root, rows, 0.0, 100.0, False, True, types, source=root)
