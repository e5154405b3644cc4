"""Ratings where photographers look: XMP sidecars that Lightroom, darktable, digiKam and
Capture One read.

A sidecar gets ``xmp:Rating`` (1-5 stars from the score, :func:`stars`; -1, "rejected", where
asked) and the score itself in rankiqa's own namespace (``rankiqa:Score``, ``rankiqa:Model``;
``cull`` adds ``rankiqa:Group`` and ``rankiqa:Pick``). An existing sidecar is merged: only
these properties are replaced, everything else (a darktable history, keywords, labels) is kept
byte for byte in meaning, and the file is replaced atomically.

Why no XMP library: Adobe's XMP Toolkit is reached from Python through python-xmp-toolkit,
which needs the C library exempi installed by the system (not pip); pyexiv2 bundles exiv2
under the GPL. XMP is RDF/XML, so the standard library's XML parser and serialiser
(:mod:`xml.etree.ElementTree`) read and write it with every namespace kept; no string
templates. Files with a DTD are refused (XMP has none; it is how XML bombs come in).

Examples
--------
>>> import tempfile
>>> photo = Path(tempfile.mkdtemp()) / "IMG_1.jpg"
>>> sidecar = write_sidecar(photo, {"xmp:Rating": 4, "rankiqa:Score": "71.5000"})
>>> sidecar.name, read_properties(sidecar)["xmp:Rating"]
('IMG_1.jpg.xmp', '4')
"""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_bytes_atomic

#: prefix -> namespace URI of every property this module writes
NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "rankiqa": "http://ns.rankiqa.org/xmp/1.0/",
}
#: sidecar naming: ``darktable`` (also digiKam): photo.jpg.xmp; ``adobe`` (Lightroom,
#: Camera Raw, Capture One): photo.xmp
STYLES = ("darktable", "adobe")
#: the lowest score of 2, 3, 4 and 5 stars (0-100 scores; below 20: 1 star): the five equal
#: bands of the absolute-category-rating scale the opinion scores were collected on
#: (bad, poor, fair, good, excellent)
STAR_BANDS = (20.0, 40.0, 60.0, 80.0)
#: xmp:Rating of a rejected photo (Lightroom, Bridge, darktable)
REJECTED = -1


def stars(score: float, bands: tuple[float, ...] = STAR_BANDS) -> int:
    """1-5 stars for a 0-100 score.

    >>> [stars(s) for s in (5, 20, 59.9, 60, 85)]
    [1, 2, 3, 4, 5]
    """
    return 1 + sum(score >= b for b in bands)


def sidecar_path(photo: str | os.PathLike, style: str = "darktable") -> Path:
    """Where a photo's sidecar lives in each naming ``style``.

    >>> str(sidecar_path("a/IMG_1.CR2")), str(sidecar_path("a/IMG_1.CR2", "adobe"))
    ('a/IMG_1.CR2.xmp', 'a/IMG_1.xmp')
    """
    photo = Path(photo)
    if style == "darktable":
        return photo.with_name(photo.name + ".xmp")
    if style == "adobe":
        return photo.with_suffix(".xmp")
    raise UserError(f"--xmp-style: choose from {', '.join(STYLES)}, got {style!r}")


def _qname(name: str) -> str:
    prefix, _, local = name.partition(":")
    if prefix not in NAMESPACES or not local:
        raise ValueError(f"unknown XMP property {name!r}")
    return f"{{{NAMESPACES[prefix]}}}{local}"


def _parse(path: Path, data: bytes) -> ET.Element:
    """The existing sidecar's root, with its own namespace prefixes registered for writing."""
    if re.search(rb"<!DOCTYPE|<!ENTITY", data):
        raise UserError(f"{path}: an XML DTD in an XMP sidecar (not allowed); not changed")
    try:
        for _, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
            if prefix and not re.fullmatch(r"ns\d+", prefix):
                ET.register_namespace(prefix, uri)
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise UserError(f"{path}: not a readable XMP sidecar ({exc}); not changed") from None


def _new_packet() -> ET.Element:
    root = ET.Element(_qname("x:xmpmeta"), {_qname("x:xmptk"): "rankiqa"})
    rdf = ET.SubElement(root, _qname("rdf:RDF"))
    ET.SubElement(rdf, _qname("rdf:Description"), {_qname("rdf:about"): ""})
    return root


def merge_properties(root: ET.Element, properties: Mapping[str, object], where: Path) -> None:
    """Set simple ``properties`` (``"xmp:Rating": 3``) on the packet ``root``: each is first
    removed wherever it is (attribute or element, any description), then set as an attribute
    of the first ``rdf:Description``; nothing else changes."""
    rdf = root if root.tag == _qname("rdf:RDF") else root.find(f".//{_qname('rdf:RDF')}")
    if rdf is None:
        raise UserError(f"{where}: no rdf:RDF in this XMP sidecar; not changed")
    descriptions = rdf.findall(_qname("rdf:Description"))
    if not descriptions:
        descriptions = [ET.SubElement(rdf, _qname("rdf:Description"), {_qname("rdf:about"): ""})]
    names = {_qname(name): str(value) for name, value in properties.items()}
    for description in descriptions:
        for name in names:
            description.attrib.pop(name, None)
            for child in description.findall(name):
                description.remove(child)
    descriptions[0].attrib.update(names)


def write_sidecar(
    photo: str | os.PathLike, properties: Mapping[str, object], style: str = "darktable"
) -> Path:
    """Write (or merge into) the XMP sidecar of ``photo``; returns the sidecar's path.

    Raises :class:`UserError` naming the sidecar when an existing one cannot be read (it is
    then left as it was).
    """
    for prefix, uri in NAMESPACES.items():
        ET.register_namespace(prefix, uri)
    path = sidecar_path(photo, style)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    root = _parse(path, data) if data.strip() else _new_packet()
    for prefix, uri in NAMESPACES.items():  # ours win over a file's odd prefixes for them
        ET.register_namespace(prefix, uri)
    merge_properties(root, properties, path)
    text = ET.tostring(root, encoding="unicode")
    try:
        write_bytes_atomic(
            path, ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode()
        )
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None
    return path


def read_properties(path: str | os.PathLike) -> dict[str, str]:
    """The simple properties of the first description of a sidecar in our namespaces
    (``{"xmp:Rating": "4", ...}``), for checks and tests."""
    path = Path(path)
    root = _parse(path, path.read_bytes())
    found = {}
    uris = {uri: prefix for prefix, uri in NAMESPACES.items() if prefix not in ("x", "rdf")}
    for description in root.iter(_qname("rdf:Description")):
        items = [(k, v) for k, v in description.attrib.items()]
        items += [(c.tag, c.text or "") for c in description if len(c) == 0]
        for tag, value in items:
            uri, _, local = tag[1:].partition("}")
            if uri in uris:
                found.setdefault(f"{uris[uri]}:{local}", value)
    return found


def rating_properties(
    score: float, model: str, rejected: bool = False, **extra: object
) -> dict[str, object]:
    """The properties a scored photo gets: ``xmp:Rating`` (:func:`stars`, or :data:`REJECTED`),
    ``rankiqa:Score`` (4 decimals), ``rankiqa:Model`` and ``rankiqa:<Name>`` for each extra.

    >>> rating_properties(71.23456, "default", Group=3)
    {'xmp:Rating': 4, 'rankiqa:Score': '71.2346', 'rankiqa:Model': 'default', 'rankiqa:Group': 3}
    """
    properties: dict[str, object] = {
        "xmp:Rating": REJECTED if rejected else stars(score),
        "rankiqa:Score": f"{score:.4f}",
        "rankiqa:Model": model,
    }
    properties.update({f"rankiqa:{name}": value for name, value in extra.items()})
    return properties


class SidecarWriter:
    """Writes the sidecar of each scored row as it comes (``write(path, score, **extra)``);
    a sidecar that cannot be written costs its own line on stderr at :meth:`close`, never the
    run. ``reject``: rows written with ``rejected=True`` get :data:`REJECTED`."""

    def __init__(self, model: str, style: str = "darktable"):
        sidecar_path("x", style)  # refuse an unknown style before any work
        self.model, self.style = model, style
        self.written, self.failures = 0, []

    def write(self, photo: str, score: float | None, rejected: bool = False, **extra) -> None:
        if score is None:
            return
        try:
            write_sidecar(
                photo, rating_properties(score, self.model, rejected, **extra), self.style
            )
            self.written += 1
        except UserError as exc:
            self.failures.append(str(exc))

    def close(self, stream=None) -> None:
        import sys

        stream = stream or sys.stderr
        for failure in self.failures:
            print(f"rankiqa: error: {failure}", file=stream)
        name = sidecar_path("photo.jpg", self.style).name
        failed = f"; {len(self.failures)} could not be written" if self.failures else ""
        print(f"rankiqa: wrote {self.written} XMP sidecars ({name}){failed}", file=stream)
