"""``rankiqa report``: scores CSV input, rows and errors, embedding, 10,000 rows, atomic writes."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

import rankiqa
from conftest import natural_image
from rankiqa.cli import main
from rankiqa.core.errors import UserError
from rankiqa.report.html import PAGE_SIZE, ReportRow, build_report, make_report, read_scores_csv


def page_rows(page: str) -> list[dict]:
    """The rows embedded in a report page."""
    match = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    assert match, "no data block"
    return json.loads(match.group(1))


def photos(folder: Path, count: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"photo{i}.jpg"
        Image.fromarray(natural_image(200 + 10 * i, 300, seed=i)).save(path, quality=90)
        paths.append(path)
    return paths


def test_read_scores_csv_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "s.csv"
    good.write_text('path,score,error\na.jpg,71.25,\n"b,c.png",,not an image\n\n')
    rows = read_scores_csv(good)
    assert [(r.path, r.score, r.error) for r in rows] == [  # relative to the csv's folder
        (str(tmp_path / "a.jpg"), 71.25, ""),
        (str(tmp_path / "b,c.png"), None, "not an image"),
    ]
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("file,quality\na.jpg,3\n")
    with pytest.raises(UserError, match="h.csv"):
        read_scores_csv(bad_header)
    bad_value = tmp_path / "v.csv"
    bad_value.write_text("path,score,error\na.jpg,1\nb.jpg,high,\n")
    with pytest.raises(UserError, match=r"v.csv:3: score 'high'"):
        read_scores_csv(bad_value)
    with pytest.raises(UserError, match="missing.csv"):
        read_scores_csv(tmp_path / "missing.csv")


def test_report_cli_scores_embeds_and_lists_errors(
    tmp_path: Path, stats_model_file: Path, capsys
) -> None:
    folder = tmp_path / "imgs"
    paths = photos(folder, 3)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "site" / "report.html"
    code = main(["report", str(folder), "-o", str(out), "--maps", "-m", str(stats_model_file)])
    assert code == 1  # one unreadable file
    captured = capsys.readouterr()
    assert "3 images, 1 error\n" in captured.out  # not "1 errors"
    assert captured.err == ""
    page = out.read_text()
    rows = {r["path"]: r for r in page_rows(page)}
    model = rankiqa.load_model(stats_model_file)
    for path in paths:
        row = rows[str(path)]
        assert row["score"] == pytest.approx(model.score(path), abs=1e-2)
        assert (row["width"], row["height"]) == Image.open(path).size
        assert row["thumb"].startswith("data:image/jpeg;base64,")
        assert row["map"].startswith("data:image/jpeg;base64,")
        thumb = Image.open(io.BytesIO(base64.b64decode(row["thumb"].split(",", 1)[1])))
        assert max(thumb.size) == 160
    assert "score" not in rows[str(folder / "broken.jpg")]
    assert "not a recognised image" in rows[str(folder / "broken.jpg")]["error"]
    assert not re.search(r"https?://", page)
    assert not list(out.parent.glob(".*tmp"))


def test_report_from_csv_does_not_rescore_and_links(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "imgs"
    paths = photos(folder, 2)
    scores = tmp_path / "scores.csv"
    with open(scores, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "score", "error"])
        writer.writerow([paths[0], "12.5", ""])
        writer.writerow([paths[1], "88", ""])
        writer.writerow([folder / "gone.jpg", "", "no such file"])
    out = tmp_path / "pages" / "r.html"
    # no model is loaded at all (--model names a file that does not exist)
    code = main(["report", "--from", str(scores), "-o", str(out), "--link", "-m", "nope.pt"])
    assert code == 1
    rows = {r["path"]: r for r in page_rows(out.read_text())}
    assert rows[str(paths[0])]["score"] == 12.5 and rows[str(paths[1])]["score"] == 88
    assert rows[str(paths[0])]["thumb"] == "../imgs/photo0.jpg"
    assert rows[str(folder / "gone.jpg")]["error"] == "no such file"


def test_ten_thousand_rows_from_a_csv(tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    lines = ["path,score,error"]
    lines += [f"/photos/img{i:05d}.jpg,{(i * 37) % 1000 / 10:.1f}," for i in range(9990)]
    lines += [f"/photos/bad{i}.jpg,,not an image" for i in range(10)]
    scores.write_text("\n".join(lines) + "\n")
    out = tmp_path / "big.html"
    rows = make_report(out, scores_csv=scores, link=True)
    assert len(rows) == 10_000
    embedded = page_rows(out.read_text())
    assert len(embedded) == 10_000
    assert sum("error" in r for r in embedded) == 10
    assert embedded[5]["score"] == pytest.approx(18.5)
    assert f'"pageSize":{PAGE_SIZE}' in out.read_text()


def test_page_escapes_hostile_paths() -> None:
    hostile = '</script><script>alert("x")</script>'
    page = build_report([ReportRow(hostile, 50.0), ReportRow("<b>bold</b>", None, "<i>e</i>")])
    assert "<script>alert" not in page and "<b>bold" not in page
    assert [r["path"] for r in page_rows(page)] == [hostile, "<b>bold</b>"]


def test_failed_report_leaves_the_old_page(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.html"
    out.write_text("old")
    bad = tmp_path / "s.csv"
    bad.write_text("path,score,error\na.jpg,x,\n")
    assert main(["report", "--from", str(bad), "-o", str(out)]) == 2
    assert "s.csv:2" in capsys.readouterr().err
    assert out.read_text() == "old"
    assert main(["report", "--from", str(bad), "-o", str(tmp_path / "r.txt")]) == 2
    assert "r.txt" in capsys.readouterr().err


def test_map_legend_and_honest_small_sizes() -> None:
    from rankiqa.report.html import ReportRow, build_report, map_colors

    page = build_report([ReportRow("a.jpg", 50.0, map="data:image/jpeg;base64,AA==", bytes=69)])
    config = json.loads(page.split('<script id="config" type="application/json">')[1].split("<")[0])
    assert config["mapColors"] == map_colors() and len(set(config["mapColors"])) > 3
    assert '<div id="legend" hidden>map colours: <span>poor</span>' in page
    assert '$("legend").hidden = false' in page
    assert 'r.bytes + " B"' in page and "Math.max(1, Math.round(r.bytes / 1024))" not in page


def test_report_from_another_folder_finds_the_pictures(tmp_path: Path, monkeypatch, capsys) -> None:
    from rankiqa.cli import main

    shoot = tmp_path / "shoot"
    photos(shoot, 2)
    (shoot / "scores.csv").write_text("path,score,error\nphoto0.jpg,60,\nphoto1.jpg,40,\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["report", "--from", "../shoot/scores.csv", "--min-score", "50", "--list",
                 "keep.txt"]) == 0  # fmt: skip
    page = (elsewhere / "report.html").read_text(encoding="utf-8")
    assert "no such file" not in page and page.count("data:image/jpeg;base64") >= 1
    assert (elsewhere / "keep.txt").read_text() == "../shoot/photo0.jpg\n"
    (shoot / "photo0.jpg").unlink()
    (shoot / "photo1.jpg").unlink()
    assert main(["report", "--from", "../shoot/scores.csv"]) == 2
    assert "none of its 2 images found" in capsys.readouterr().err
