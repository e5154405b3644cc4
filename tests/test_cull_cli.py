"""``rankiqa cull``: bursts grouped (with and without capture times), the sharp frame picked,
originals untouched, picks linked or copied, ratings in XMP sidecars."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from image_fixtures import drawn_scene
from rankiqa.cli import main
from rankiqa.workflow.capture import capture_time


def save(path: Path, image: np.ndarray, when: str | None = None, blur: float = 0.0) -> None:
    picture = Image.fromarray(image)
    if blur:
        picture = picture.filter(ImageFilter.GaussianBlur(blur))
    exif = Image.Exif()
    if when:
        exif.get_ifd(0x8769)[0x9003] = when[:19]
        exif.get_ifd(0x8769)[0x9291] = when[20:]
    picture.save(path, quality=92, exif=exif)


@pytest.fixture(scope="module")
def card(tmp_path_factory) -> tuple[Path, dict[str, int], set[str]]:
    """Two bursts of three hand-shake frames (one sharp; one burst with EXIF times, one
    without) and a single photo; returns (folder, true group per name, sharp names)."""
    folder = tmp_path_factory.mktemp("card")
    scenes = [drawn_scene(400, 560, seed=s) for s in (1, 2, 3)]
    truth, sharp = {}, set()
    for burst, timed in ((0, True), (1, False)):
        for frame, (dy, dx, blur) in enumerate([(0, 0, 3.0), (9, 14, 0.0), (17, 6, 2.5)]):
            name = f"IMG_{burst}{frame}.jpg"
            when = f"2024:05:01 10:00:0{frame}.{frame * 20:02d}" if timed else None
            save(folder / name, scenes[burst][dy : dy + 380, dx : dx + 540], when, blur)
            truth[name] = burst
            if blur == 0:
                sharp.add(name)
    save(folder / "IMG_single.jpg", scenes[2], "2024:05:01 10:00:03.50")
    truth["IMG_single.jpg"] = 2
    return folder, truth, sharp


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_capture_time_with_subseconds(card) -> None:
    folder, _, _ = card
    assert capture_time(folder / "IMG_01.jpg") - capture_time(
        folder / "IMG_00.jpg"
    ) == pytest.approx(1.2)
    assert capture_time(folder / "IMG_10.jpg") is None


def test_groups_and_picks(card, tmp_path: Path, capsys) -> None:
    folder, truth, sharp = card
    before = digest(folder)
    out = tmp_path / "cull.csv"
    assert main(["cull", str(folder), "-o", str(out)]) == 0
    rows = read_rows(out)
    assert [Path(r["path"]).name for r in rows] == sorted(truth)
    assert list(rows[0]) == ["path", "score", "group", "pick", "error"]
    found: dict[str, set[int]] = {}
    for row in rows:
        found.setdefault(row["group"], set()).add(truth[Path(row["path"]).name])
    assert sorted(map(sorted, found.values())) == [[0], [1], [2]]  # three groups, the true ones
    picks = {Path(r["path"]).name for r in rows if r["pick"] == "1"}
    assert picks == sharp | {"IMG_single.jpg"}
    assert digest(folder) == before  # nothing written beside the photos
    assert "7 photos in 3 groups, 3 picks" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["link", "copy"])
def test_picks_to_folder(card, tmp_path: Path, mode: str) -> None:
    folder, _, sharp = card
    photos = tmp_path / "photos"
    shutil.copytree(folder, photos)
    before = digest(photos)
    keep = tmp_path / "keep"
    extra = ["--copy"] if mode == "copy" else []
    assert main(["cull", str(photos), "-o", str(tmp_path / "c.csv"), "--picks-to", str(keep),
                 *extra]) == 0  # fmt: skip
    assert sorted(p.name for p in keep.iterdir()) == sorted(sharp | {"IMG_single.jpg"})
    assert digest(photos) == before
    for picked in keep.iterdir():
        same_inode = picked.stat().st_ino == (photos / picked.name).stat().st_ino
        assert same_inode == (mode == "link")
        assert picked.read_bytes() == (photos / picked.name).read_bytes()
    # a second run finds its own links and leaves them; a foreign file is refused
    if mode == "link":
        assert main(["cull", str(photos), "-o", str(tmp_path / "c.csv"), "--picks-to",
                     str(keep)]) == 0  # fmt: skip
    victim = keep / sorted(sharp)[0]
    victim.unlink()
    victim.write_bytes(b"another file")
    assert main(["cull", str(photos), "-o", str(tmp_path / "c.csv"), "--picks-to",
                 str(keep), *extra]) == 2  # fmt: skip
    assert victim.read_bytes() == b"another file"


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_xmp_ratings_read_by_exiftool(card, tmp_path: Path) -> None:
    folder, _, sharp = card
    photos = tmp_path / "photos"
    shutil.copytree(folder, photos)
    assert main(["cull", str(photos), "-o", str(tmp_path / "c.csv"), "--xmp", "--reject",
                 "--xmp-style", "adobe"]) == 0  # fmt: skip
    sidecars = sorted(photos.glob("*.xmp"))
    assert len(sidecars) == 7
    out = subprocess.run(["exiftool", "-j", "-G1", *map(str, sidecars)], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    tags = {Path(t["SourceFile"]).stem + ".jpg": t for t in json.loads(out)}
    rows = {Path(r["path"]).name: r for r in read_rows(tmp_path / "c.csv")}
    for name, tag in tags.items():
        rating = tag["XMP-xmp:Rating"]
        if name in sharp or name == "IMG_single.jpg":
            assert 1 <= rating <= 5
            assert rating == 1 + sum(float(rows[name]["score"]) >= b for b in (20, 40, 60, 80))
        else:
            assert rating == -1
        assert f"{float(tag['XMP-rankiqa:Score']):.4f}" == rows[name]["score"]
        assert str(tag["XMP-rankiqa:Group"]) == rows[name]["group"]


def test_bad_file_gets_its_row(card, tmp_path: Path, capsys) -> None:
    folder, _, _ = card
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    shutil.copy(folder / "IMG_single.jpg", tmp_path / "ok.jpg")
    assert main(["cull", str(tmp_path), "-o", str(tmp_path / "c.json")]) == 1
    rows = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert [(Path(r["path"]).name, r["group"], r["pick"]) for r in rows] == [
        ("broken.jpg", None, 0),
        ("ok.jpg", 1, 1),
    ]
    assert rows[0]["error"] == "not a recognised image file"
    assert "1 could not be read" in capsys.readouterr().err
