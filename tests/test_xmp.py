"""XMP sidecars: ratings an independent reader (exiftool) sees, merged into existing files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from rankiqa.core.errors import UserError
from rankiqa.workflow.xmp import rating_properties, read_properties, sidecar_path, write_sidecar

#: a sidecar as darktable 4 writes it (abridged): history, tags, colour labels
DARKTABLE_SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
   xmp:Rating="1"
   xmpMM:DerivedFrom="IMG_1.jpg"
   darktable:xmp_version="5"
   darktable:history_end="2">
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:num="0" darktable:operation="exposure" darktable:enabled="1"
      darktable:params="0000000000000000"/>
     <rdf:li darktable:num="1" darktable:operation="colorbalancergb" darktable:enabled="1"
      darktable:params="cdcc4c3e"/>
    </rdf:Seq>
   </darktable:history>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>holiday</rdf:li>
     <rdf:li>beach</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>places|beach</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

exiftool = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    exiftool is None, reason="exiftool not installed (Debian: libimage-exiftool-perl)"
)


def read_with_exiftool(path: Path) -> dict:
    out = subprocess.run(
        [exiftool, "-j", "-G1", "-a", "-struct", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)[0]


def test_sidecar_names() -> None:
    assert sidecar_path("d/IMG_1.JPG") == Path("d/IMG_1.JPG.xmp")
    assert sidecar_path("d/IMG_1.JPG", "adobe") == Path("d/IMG_1.xmp")
    with pytest.raises(UserError, match="xmp-style"):
        sidecar_path("a.jpg", "lightroom")


def test_new_sidecar_round_trip(tmp_path: Path) -> None:
    photo = tmp_path / "IMG_2.jpg"
    path = write_sidecar(photo, rating_properties(83.2, "default", Group=2, Pick=1), "adobe")
    assert path == tmp_path / "IMG_2.xmp"
    assert read_properties(path) == {
        "xmp:Rating": "5",
        "rankiqa:Score": "83.2000",
        "rankiqa:Model": "default",
        "rankiqa:Group": "2",
        "rankiqa:Pick": "1",
    }


@needs_exiftool
def test_exiftool_reads_rating_and_score(tmp_path: Path) -> None:
    path = write_sidecar(tmp_path / "a.jpg", rating_properties(45.0, "default"))
    tags = read_with_exiftool(path)
    assert tags["XMP-xmp:Rating"] == 3
    assert float(tags["XMP-rankiqa:Score"]) == 45.0
    rejected = write_sidecar(tmp_path / "b.jpg", rating_properties(45.0, "m", rejected=True))
    assert read_with_exiftool(rejected)["XMP-xmp:Rating"] == -1


@needs_exiftool
def test_merge_keeps_every_other_property(tmp_path: Path) -> None:
    path = tmp_path / "IMG_1.jpg.xmp"
    path.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    before = read_with_exiftool(path)
    write_sidecar(tmp_path / "IMG_1.jpg", rating_properties(66.0, "default"))
    after = read_with_exiftool(path)
    assert before["XMP-xmp:Rating"] == 1 and after["XMP-xmp:Rating"] == 4
    assert float(after["XMP-rankiqa:Score"]) == 66.0
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    ignored = {"SourceFile", "System:FileModifyDate", "System:FileAccessDate",
               "System:FileInodeChangeDate", "System:FileSize", "System:FilePermissions",
               "XMP-x:XMPToolkit"}  # fmt: skip
    assert changed - ignored == {"XMP-xmp:Rating", "XMP-rankiqa:Score", "XMP-rankiqa:Model"}
    assert after["XMP-dc:Subject"] == ["holiday", "beach"]
    assert len(after["XMP-darktable:History"]) == 2  # both history entries, with their params
    # merging twice changes nothing more
    write_sidecar(tmp_path / "IMG_1.jpg", rating_properties(66.0, "default"))
    again = read_with_exiftool(path)
    assert {k: v for k, v in again.items() if k not in ignored} == {
        k: v for k, v in after.items() if k not in ignored
    }


def test_rating_given_as_element_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "p.xmp"
    path.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/"><xmp:Rating>2</xmp:Rating><xmp:Label>Red'
        "</xmp:Label></rdf:Description></rdf:RDF></x:xmpmeta>",
        encoding="utf-8",
    )
    write_sidecar(tmp_path / "p.jpg", {"xmp:Rating": 5}, "adobe")
    text = path.read_text(encoding="utf-8")
    assert text.count("Rating") == 1
    assert read_properties(path)["xmp:Rating"] == "5"
    assert "<xmp:Label>Red</xmp:Label>" in text


@pytest.mark.parametrize(
    "content",
    ["<x:xmpmeta", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>', "<a>no rdf</a>"],
)
def test_unreadable_sidecar_is_left_alone(tmp_path: Path, content: str) -> None:
    path = tmp_path / "p.jpg.xmp"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match="p.jpg.xmp"):
        write_sidecar(tmp_path / "p.jpg", {"xmp:Rating": 3})
    assert path.read_text(encoding="utf-8") == content
