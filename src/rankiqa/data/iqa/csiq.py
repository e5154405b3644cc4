"""CSIQ (Larson & Chandler 2010): the ``csiq.DMOS.xlsx`` sheet or its text export, ``dst_imgs/``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.records import IQATable
from rankiqa.data.iqa.score_files import Resolver, find_file, make_table, parse_float, text_lines

#: CSIQ: dst_type in the score sheet -> (folder, file-name tag)
CSIQ_TYPES = {
    "noise": ("awgn", "AWGN"),
    "jpeg": ("jpeg", "JPEG"),
    "jpeg 2000": ("jpeg2000", "jpeg2000"),
    "fnoise": ("fnoise", "fnoise"),
    "blur": ("blur", "BLUR"),
    "contrast": ("contrast", "contrast"),
}


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
    resolver = Resolver(root, verify)
    xlsx = Resolver(root, False)("csiq.DMOS.xlsx", str(root))
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
        source = find_file(root, "csiq.DMOS.xlsx", "csiq_dmos.txt", "csiq.DMOS.txt")
        for number, line in text_lines(source):
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
        lev = int(parse_float(level, where, "dst_lev"))
        path = resolver(f"dst_imgs/{folder}/{image}.{tag}.{lev}.png", where)
        rows.append((path, parse_float(dmos, where, "DMOS"), image, folder))
    types = {folder: t for t, (folder, _) in CSIQ_TYPES.items()}
    return make_table("csiq", root, rows, 0.0, 1.0, False, True, types, source=source)
