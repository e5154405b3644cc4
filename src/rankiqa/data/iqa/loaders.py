"""Loaders for the standard IQA datasets, each read from its files as officially distributed.

Every loader returns an :class:`~rankiqa.data.iqa.records.IQATable`. Image names are resolved
case-insensitively against the files present (TID2013 mixes ``.bmp`` and ``.BMP``); a name
that would escape the dataset root (``../x``, an absolute path) is refused. With
``verify=False`` no image has to exist (only the score files are parsed).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.records import IQARecord, IQATable, normalise

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
#: LIVE Release 2: folders in the order the DMOS vector concatenates them, and their sizes.
LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))
#: CSIQ: dst_type in the score sheet -> (folder, file-name tag)
CSIQ_TYPES = {
    "noise": ("awgn", "AWGN"),
    "jpeg": ("jpeg", "JPEG"),
    "jpeg 2000": ("jpeg2000", "jpeg2000"),
    "fnoise": ("fnoise", "fnoise"),
    "blur": ("blur", "BLUR"),
    "contrast": ("contrast", "contrast"),
}


# --------------------------------------------------------------------------- path handling
class _Resolver:
    """Joins dataset-relative names to the root, case-insensitively, refusing escapes."""

    def __init__(self, root: Path, verify: bool):
        self.root = root
        self.verify = verify
        self._listings: dict[Path, dict[str, str]] = {}

    def _listing(self, folder: Path) -> dict[str, str]:
        if folder not in self._listings:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            listing: dict[str, str] = {}
            for name in sorted(names):
                listing.setdefault(name.lower(), name)
            self._listings[folder] = listing
        return self._listings[folder]

    def __call__(self, name: str, where: str) -> Path:
        name = name.strip().replace("\\", "/")
        rel = PurePosixPath(name)
        if not name or rel.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in rel.parts:
            raise UserError(f"{where}: image name {name!r} escapes the dataset root; refused")
        path = self.root
        for part in rel.parts:
            if part == ".":
                continue
            candidate = path / part
            if not candidate.exists():
                actual = self._listing(path).get(part.lower())
                if actual is not None:
                    candidate = path / actual
            path = candidate
        if self.verify and not path.is_file():
            raise UserError(f"{where}: image {name!r} not found under {self.root}")
        return path


def _need(path: Path, what: str = "score file") -> Path:
    if not path.is_file():
        raise UserError(f"{path}: {what} not found")
    return path


def _find(root: Path, *candidates: str) -> Path:
    """The first candidate file that exists under root (case-insensitive); error naming all."""
    resolver = _Resolver(root, verify=False)
    for cand in candidates:
        path = resolver(cand, str(root))
        if path.is_file():
            return path
    raise UserError(
        f"{root / candidates[0]}: score file not found (also tried {', '.join(candidates[1:]) or 'nothing else'})"
    )


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-empty lines with 1-based numbers; CRLF/CR/BOM tolerated."""
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, line.strip()


def _float(value: Any, where: str, what: str = "score") -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: {what} {value!r} is not a number") from None
    if not np.isfinite(result):
        raise UserError(f"{where}: {what} {value!r} is not finite")
    return result


def _loadmat(path: Path) -> dict[str, Any]:
    from scipy.io import loadmat

    _need(path, "MATLAB file")
    try:
        return loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's fault
        raise UserError(f"{path}: cannot read MATLAB file ({exc})") from None


def _mat_var(mat: dict[str, Any], path: Path, *names: str) -> np.ndarray:
    for name in names:
        if name in mat:
            return np.asarray(mat[name])
    raise UserError(f"{path}: variable {names[0]!r} not found")


def _mat_strings(array: np.ndarray) -> list[str]:
    """Flatten a MATLAB cell array of strings (as read by scipy) to Python strings."""
    out = []
    for item in np.asarray(array, dtype=object).ravel():
        while isinstance(item, np.ndarray):
            item = item.ravel()[0] if item.size else ""
        out.append(str(item))
    return out


def _table(
    name: str,
    root: Path,
    rows: list[tuple[Path, float, str | None, str | None]],
    lo: float,
    hi: float,
    higher: bool,
    synthetic: bool,
    types: dict[str, str] | None = None,
    official_split: dict[str, tuple[int, ...]] | None = None,
    source: Path | None = None,
) -> IQATable:
    if not rows:
        raise UserError(f"{source or root}: no rated images found")
    records = tuple(
        IQARecord(path, score, normalise(score, lo, hi, higher), ref, dist)
        for path, score, ref, dist in rows
    )
    return IQATable(
        name=name,
        root=root,
        records=records,
        direction="higher" if higher else "lower",
        score_range=(lo, hi),
        synthetic=synthetic,
        distortion_names=dict(types or {}),
        official_split=official_split,
    )


# --------------------------------------------------------------------------- TID2013 / TID2008
_TID_NAME = re.compile(r"^i(\d\d)_(\d\d)_(\d)\.bmp$", re.IGNORECASE)


def _load_tid(name: str, root: Path, verify: bool, n_refs: int, types: dict[str, str]) -> IQATable:
    resolver = _Resolver(root, verify)
    rows = []
    try:
        scores_path = _find(root, "mos_with_names.txt")
        named = True
    except UserError:
        named = False
        scores_path = _find(root, "mos_with_names.txt", "mos.txt")
    if named:
        entries = []
        for number, line in _text_lines(scores_path):
            parts = line.split()
            where = f"{scores_path}:{number}"
            if len(parts) != 2:
                raise UserError(f"{where}: expected 'MOS NAME', got {line!r}")
            entries.append((_float(parts[0], where), parts[1], where))
    else:
        names = [
            f"i{r:02d}_{t:02d}_{level}.bmp"
            for r in range(1, n_refs + 1)
            for t in range(1, len(types) + 1)
            for level in range(1, (5 if name == "tid2013" else 4) + 1)
        ]
        lines = list(_text_lines(scores_path))
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
            entries.append((_float(parts[0], where), image, where))
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
    return _table(name, root, rows, 0.0, 9.0, True, True, types, source=scores_path)


def load_tid2013(root: Path, verify: bool = True) -> IQATable:
    """TID2013: ``mos_with_names.txt`` (or ``mos.txt`` in the official order) + ``distorted_images/``.

    MOS on 0–9, higher is better; reference ``i01``…``i25``, distortion type ``01``…``24``.
    """
    return _load_tid("tid2013", root, verify, 25, TID2013_TYPES)


def load_tid2008(root: Path, verify: bool = True) -> IQATable:
    """TID2008: like TID2013 with 17 distortion types and 4 levels."""
    return _load_tid("tid2008", root, verify, 25, TID2008_TYPES)


# --------------------------------------------------------------------------- LIVE Release 2
def load_live(root: Path, verify: bool = True, include_references: bool = False) -> IQATable:
    """LIVE IQA Release 2: ``dmos_realigned.mat`` (``dmos_new``, ``orgs``) or ``dmos.mat``
    (``dmos``, ``orgs``) and ``refnames_all.mat``; images ``<folder>/img<i>.bmp``.

    DMOS on 0–100 (lower is better, flipped to the 0–100 target). Entries with ``orgs == 1``
    are copies of the reference images and are left out unless ``include_references``.
    """
    resolver = _Resolver(root, verify)
    realigned = root / "dmos_realigned.mat"
    if realigned.is_file():
        mat_path = realigned
        mat = _loadmat(realigned)
        dmos = _mat_var(mat, realigned, "dmos_new", "dmos")
    else:
        mat_path = _find(root, "dmos_realigned.mat", "dmos.mat")
        mat = _loadmat(mat_path)
        dmos = _mat_var(mat, mat_path, "dmos")
    dmos = dmos.astype(np.float64).ravel()
    orgs = _mat_var(mat, mat_path, "orgs").astype(np.int64).ravel()
    refs_path = root / "refnames_all.mat"
    refnames = _mat_strings(_mat_var(_loadmat(refs_path), refs_path, "refnames_all"))
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
                score = _float(dmos[index], where, "DMOS")
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
    return _table("live", root, rows, 0.0, 100.0, False, True, types, source=mat_path)


# --------------------------------------------------------------------------- LIVE Multiply Distorted
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
    resolver = _Resolver(root, verify)
    rows: list[tuple[Path, float, str | None, str | None]] = []
    labels: dict[str, str] = {"pristine": "reference (undistorted)"} if include_references else {}
    for part, (folder, second) in LIVEMD_PARTS.items():
        part_dir = _livemd_part_dir(root, part)
        rel = part_dir.relative_to(root).as_posix()
        lists_path = _Resolver(part_dir, False)("Imagelists.mat", str(part_dir))
        scores_path = _Resolver(part_dir, False)("Scores.mat", str(part_dir))
        lists = _loadmat(lists_path)
        names = _mat_strings(_mat_var(lists, lists_path, "distimgs"))
        refnames = _mat_strings(_mat_var(lists, lists_path, "refimgs"))
        ref4dist = _mat_var(lists, lists_path, "ref4dist").ravel().tolist()
        dmos = _mat_var(_loadmat(scores_path), scores_path, "DMOSscores").ravel().tolist()
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
            ref_index = _float(index, where, "ref4dist")
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
                (path, _float(score, f"{scores_path} entry {i + 1}", "DMOS"), reference, label)
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
    return _table("livemd", root, rows, 0.0, 100.0, False, True, types, source=root)


# --------------------------------------------------------------------------- CSIQ
def _csiq_rows_xlsx(path: Path) -> list[tuple[str, list[Any]]]:
    try:
        import openpyxl
    except ImportError:
        raise UserError(
            f"{path}: reading .xlsx needs openpyxl (pip install 'rankiqa[xlsx]'), "
            "or export the sheet to csiq_dmos.txt"
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{path}: cannot read spreadsheet ({exc})") from None
    sheets = [book["all_by_image"]] if "all_by_image" in book.sheetnames else book.worksheets
    for sheet in sheets:
        rows = [
            (f"{path} sheet {sheet.title!r} row {n}", list(row))
            for n, row in enumerate(sheet.iter_rows(values_only=True), 1)
        ]
        if any(_csiq_header(r) is not None for _, r in rows):
            return rows
    raise UserError(f"{path}: no sheet with the columns image, dst_type, dst_lev, dmos")


def _csiq_header(row: list[Any]) -> dict[str, int] | None:
    cells = [str(c).strip().lower() if c is not None else "" for c in row]
    if {"image", "dst_type", "dst_lev", "dmos"} <= set(cells):
        return {c: i for i, c in enumerate(cells) if c}
    return None


def load_csiq(root: Path, verify: bool = True) -> IQATable:
    """CSIQ: ``csiq.DMOS.xlsx`` (sheet ``all_by_image``; needs openpyxl) or its text export
    ``csiq_dmos.txt`` (``image dst_idx dst_type dst_lev dmos_std dmos``, whitespace separated,
    ``jpeg 2000`` as one field or ``jpeg2000``). Images ``dst_imgs/<type>/<image>.<TAG>.<lev>.png``.

    DMOS on 0–1, lower is better.
    """
    resolver = _Resolver(root, verify)
    xlsx = _Resolver(root, False)("csiq.DMOS.xlsx", str(root))
    entries: list[tuple[str, str, str, Any, Any]] = []  # where, image, type, level, dmos
    if xlsx.is_file():
        source = xlsx
        header = None
        for where, row in _csiq_rows_xlsx(xlsx):
            if header is None:
                header = _csiq_header(row)
                continue
            if all(c is None or str(c).strip() == "" for c in row):
                continue
            values = {k: row[i] if i < len(row) else None for k, i in header.items()}
            image = values.get("image")
            if isinstance(image, float) and image.is_integer():
                image = int(image)
            entries.append(
                (
                    where,
                    str(image).strip(),
                    str(values.get("dst_type") or "").strip().lower(),
                    values.get("dst_lev"),
                    values.get("dmos"),
                )
            )
    else:
        source = _find(root, "csiq.DMOS.xlsx", "csiq_dmos.txt", "csiq.DMOS.txt")
        for number, line in _text_lines(source):
            where = f"{source}:{number}"
            parts = re.split(r"[\t,]+|\s+", line.replace("jpeg 2000", "jpeg2000"))
            parts = [p for p in parts if p]
            if parts[:1] == ["image"]:
                continue
            if len(parts) != 6:
                raise UserError(
                    f"{where}: expected 'image dst_idx dst_type dst_lev dmos_std dmos', got {line!r}"
                )
            entries.append((where, parts[0], parts[2].lower(), parts[3], parts[5]))
    rows = []
    for where, image, dtype, level, dmos in entries:
        dtype = "jpeg 2000" if dtype == "jpeg2000" else dtype
        if dtype not in CSIQ_TYPES:
            raise UserError(f"{where}: unknown CSIQ distortion type {dtype!r}")
        folder, tag = CSIQ_TYPES[dtype]
        lev = int(_float(level, where, "dst_lev"))
        path = resolver(f"dst_imgs/{folder}/{image}.{tag}.{lev}.png", where)
        rows.append((path, _float(dmos, where, "DMOS"), image, folder))
    types = {folder: t for t, (folder, _) in CSIQ_TYPES.items()}
    return _table("csiq", root, rows, 0.0, 1.0, False, True, types, source=source)


# --------------------------------------------------------------------------- CSV helpers
def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(where, row) for each data row of a CSV with a header (quoted or not, CRLF ok)."""
    _need(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    for row in reader:
        number = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if header is None:
            header = [c.strip().lower() for c in row]
            continue
        if len(row) != len(header):
            raise UserError(f"{path}:{number}: expected {len(header)} fields, got {len(row)}")
        yield f"{path}:{number}", dict(zip(header, (c.strip() for c in row), strict=True))
    if header is None:
        raise UserError(f"{path}: empty file")


def _require_columns(path: Path, row: dict[str, str], *columns: str) -> None:
    missing = [c for c in columns if c not in row]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}")


# --------------------------------------------------------------------------- KADID-10k
def load_kadid10k(root: Path, verify: bool = True) -> IQATable:
    """KADID-10k: ``dmos.csv`` (``dist_img,ref_img,dmos,var``), images in ``images/``.

    Despite its name the ``dmos`` column is a MOS on 1–5, higher is better.
    """
    resolver = _Resolver(root, verify)
    path = _find(root, "dmos.csv")
    rows = []
    for where, row in _csv_rows(path):
        _require_columns(path, row, "dist_img", "ref_img", "dmos")
        name = row["dist_img"]
        match = re.match(r"^i(\d+)_(\d\d)_(\d\d)\.png$", name, re.IGNORECASE)
        if not match:
            resolver(name, where)  # refuses escaping names first
            raise UserError(f"{where}: image name {name!r} is not like I01_01_01.png")
        image = resolver(f"images/{name}", where)
        ref = PurePosixPath(row["ref_img"]).stem
        rows.append((image, _float(row["dmos"], where), ref, match.group(2)))
    return _table("kadid10k", root, rows, 1.0, 5.0, True, True, KADID_TYPES, source=path)


# --------------------------------------------------------------------------- KonIQ-10k
def load_koniq10k(root: Path, verify: bool = True, image_dir: str | None = None) -> IQATable:
    """KonIQ-10k: ``koniq10k_scores_and_distributions.csv`` (MOS on 1–5) or
    ``koniq10k_distributions_sets.csv`` (MOS on 1–100, plus the official ``set`` column);
    images in ``1024x768/`` (or ``512x384/``, or ``image_dir``). Higher is better.

    When the ``set`` column is present the table carries the official split
    (``training``/``validation``/``test``).
    """
    resolver = _Resolver(root, verify)
    if image_dir is None:
        image_dir = "1024x768"
        if not (root / image_dir).is_dir() and (root / "512x384").is_dir():
            image_dir = "512x384"
    sets_path = _Resolver(root, False)("koniq10k_distributions_sets.csv", str(root))
    scores_path = _Resolver(root, False)("koniq10k_scores_and_distributions.csv", str(root))
    if scores_path.is_file():
        path, lo, hi = scores_path, 1.0, 5.0
    else:
        path, lo, hi = (
            _find(root, "koniq10k_scores_and_distributions.csv", "koniq10k_distributions_sets.csv"),
            1.0,
            100.0,
        )
    rows = []
    index_of: dict[str, int] = {}
    for where, row in _csv_rows(path):
        _require_columns(path, row, "image_name", "mos")
        name = row["image_name"]
        if "/" in name or "\\" in name or name.startswith(".."):
            resolver(name, where)
        index_of[name] = len(rows)
        rows.append((resolver(f"{image_dir}/{name}", where), _float(row["mos"], where), None, None))
    official = None
    if sets_path.is_file():
        parts: dict[str, list[int]] = {}
        for where, row in _csv_rows(sets_path):
            _require_columns(sets_path, row, "image_name", "set")
            if row["image_name"] not in index_of:
                raise UserError(f"{where}: image {row['image_name']!r} is not in {path.name}")
            parts.setdefault(row["set"].lower(), []).append(index_of[row["image_name"]])
        official = {k: tuple(v) for k, v in parts.items()}
    return _table("koniq10k", root, rows, lo, hi, True, False, official_split=official, source=path)


# --------------------------------------------------------------------------- LIVE Challenge
def load_clive(root: Path, verify: bool = True) -> IQATable:
    """LIVE In the Wild Image Quality Challenge: ``Data/AllImages_release.mat`` and
    ``Data/AllMOS_release.mat``; images in ``Images/`` except the 7 training images
    (``t1.bmp``…``t7.bmp``, index < 7), which are in ``Images/trainingImages/``. MOS on 0–100.
    """
    resolver = _Resolver(root, verify)
    names_path = root / "Data" / "AllImages_release.mat"
    mos_path = root / "Data" / "AllMOS_release.mat"
    names = _mat_strings(_mat_var(_loadmat(names_path), names_path, "AllImages_release"))
    mos = _mat_var(_loadmat(mos_path), mos_path, "AllMOS_release").astype(np.float64).ravel()
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
                _float(score, f"{mos_path} entry {i + 1}"),
                None,
                None,
            )
        )
    return _table("clive", root, rows, 0.0, 100.0, True, False, source=mos_path)


# --------------------------------------------------------------------------- generic CSV
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
    _need(path)
    resolver = _Resolver(path.parent, verify)
    rows = []
    has_ref = False
    for where, row in _csv_rows(path):
        _require_columns(path, row, "path", "score")
        ref = row.get("reference") or None
        has_ref = has_ref or ref is not None
        rows.append(
            (
                resolver(row["path"], where),
                _float(row["score"], where),
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
    return _table(
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


# --------------------------------------------------------------------------- registry
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
