"""What a photographer meets: the pixel limit, -o FOLDER/, output suffixes, map names, folder
scans that skip files, no raw warnings (issue 23)."""

from __future__ import annotations

import csv
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image

from conftest import natural_image
from rankiqa.cli import main
from rankiqa.core.imageio import DEFAULT_MAX_PIXELS, ImageReadError, read_image


@pytest.fixture
def pillow_limit(monkeypatch) -> int:
    """Pillow's own limit made small (as a 100 MP photo meets the real one: 89478485)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    return 2000


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    Image.fromarray(natural_image(60, 80, seed=3)).save(path, quality=92)  # 4800 pixels
    return path


def test_default_is_pillows_and_documented() -> None:
    from rankiqa.cli.argtypes import MAX_PIXELS_HELP

    assert DEFAULT_MAX_PIXELS == 89_478_485 == int(1024 * 1024 * 1024 // 4 // 3)
    assert str(DEFAULT_MAX_PIXELS) in MAX_PIXELS_HELP
    docs = Path(__file__).resolve().parents[1] / "docs"
    assert str(DEFAULT_MAX_PIXELS) in (docs / "scoring.md").read_text("utf-8")


def test_max_pixels_governs_pillow_both_ways(photo: Path, pillow_limit: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        assert read_image(photo, max_pixels=10_000).shape == (60, 80, 3)  # above Pillow's
        with pytest.raises(
            ImageReadError,
            match=r"photo.jpg: too many pixels \(80x60, more than the limit of 1000;",
        ):
            read_image(photo, max_pixels=1000)
    assert pillow_limit == Image.MAX_IMAGE_PIXELS  # Pillow's global is restored


@pytest.mark.parametrize("command", ["score", "map", "report"])
def test_max_pixels_option_in_every_command(
    command: str, photo: Path, tmp_path: Path, stats_model_file: Path, pillow_limit, capsys
) -> None:
    out = {"score": "s.csv", "map": "m.png", "report": "r.html"}[command]
    base = [command, str(photo), "-m", str(stats_model_file), "-o", str(tmp_path / out)]
    assert main([*base, "--max-pixels", "10000"]) == 0
    captured = capsys.readouterr()
    assert "Warning" not in captured.err and "too many" not in captured.out + captured.err
    assert main([*base, "--max-pixels", "1000"]) == 1
    captured = capsys.readouterr()
    text = captured.err + captured.out + (tmp_path / out).read_text("utf-8", errors="replace")
    assert "Traceback" not in text and "Warning" not in captured.err
    if command == "map":
        assert captured.err.splitlines()[0] == (
            f"rankiqa: {photo}: too many pixels (80x60, more than the limit of 1000; possible "
            "decompression bomb: raise the limit with --max-pixels or max_pixels=)"
        )
    else:
        assert "too many pixels (80x60, more than the limit of 1000;" in text


def test_report_header_read_leaks_no_pillow_warning(
    photo: Path, tmp_path: Path, stats_model_file: Path, monkeypatch, capsys
) -> None:
    # 4800 pixels, between Pillow's limit and twice it: Pillow warns reading the header
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(
            ["report", str(photo), "-o", str(tmp_path / "r.html"), "-m", str(stats_model_file)]
        )
    captured = capsys.readouterr()
    assert code == 0 and captured.err == "" and "1 image\n" in captured.out


@pytest.mark.parametrize(
    "command, name",
    [("score", "scores.csv"), ("report", "report.html"), ("map", "photo.jpg.png")],
)
@pytest.mark.parametrize("exists", [True, False])
def test_output_folder_gets_a_documented_name(
    command: str, name: str, exists: bool, photo: Path, tmp_path: Path, stats_model_file, capsys
) -> None:
    folder = tmp_path / "out" / "new"
    if exists:
        folder.mkdir(parents=True)
    target = str(folder) + ("" if exists else "/")
    assert main([command, str(photo), "-m", str(stats_model_file), "-o", target]) == 0
    assert (folder / name).is_file()
    assert "Traceback" not in capsys.readouterr().err


def test_xlsx_is_a_spreadsheet_and_unknown_suffixes_are_refused(
    photo: Path, tmp_path: Path, stats_model_file: Path, capsys
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "scores.xlsx"
    assert main(["score", str(photo), "-m", str(stats_model_file), "-o", str(out)]) == 0
    rows = list(openpyxl.load_workbook(out).active.values)
    assert rows[0] == ("path", "score", "error") and rows[1][0] == str(photo)
    assert isinstance(rows[1][1], float)
    for bad in ("scores.xls", "scores.ods", "scores.html"):
        assert (
            main(["score", str(photo), "-m", str(stats_model_file), "-o", str(tmp_path / bad)]) == 2
        )
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and bad in err and not (tmp_path / bad).exists()
    code = main(
        [
            "score",
            str(photo),
            "-m",
            str(stats_model_file),
            "-o",
            str(tmp_path / "a.json"),
            "-f",
            "csv",
        ]
    )
    assert code == 2 and "does not match" in capsys.readouterr().err
    assert (
        main(["score", str(photo), "-m", str(stats_model_file), "-o", str(tmp_path / "t.txt")]) == 0
    )
    assert (tmp_path / "t.txt").read_text().startswith("path ")  # .txt: the table


def test_map_names_keep_the_source_suffix_and_errors_name_the_file(
    tmp_path: Path, stats_model_file: Path, capsys
) -> None:
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    image = natural_image(120, 160, seed=1)
    for name in ("gray.jpg", "gray.png", "kodim23.webp", "sub/gray.jpg"):
        Image.fromarray(image).save(folder / name)
    Image.fromarray(natural_image(2, 300, seed=1)).save(folder / "thin.png")
    out = tmp_path / "maps"
    code = main(["map", str(folder), "-r", "-o", f"{out}/", "-m", str(stats_model_file)])
    err = capsys.readouterr().err
    assert code == 1
    made = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert made == ["gray.jpg.png", "gray.png.png", "kodim23.webp.png", "sub/gray.jpg.png"]
    assert f"rankiqa: {folder / 'thin.png'}: " in err and "elongated" in err


def write_awkward_folder(folder: Path) -> None:
    folder.mkdir()
    Image.fromarray(natural_image(60, 80)).save(folder / "a.jpg")
    (folder / "IMG_0001.CR2").write_bytes(b"II*\x00" + bytes(100))
    (folder / "notes.txt").write_text("shot list\n")
    (folder / ".DS_Store").write_bytes(bytes(10))


@pytest.mark.parametrize("command", ["score", "map", "report"])
def test_folder_scans_count_what_they_skip(
    command: str, tmp_path: Path, stats_model_file: Path, capsys
) -> None:
    folder = tmp_path / "shoot"
    write_awkward_folder(folder)
    out = {"score": "s.csv", "map": "maps", "report": "r.html"}[command]
    base = [command, str(folder), "-m", str(stats_model_file), "-o", str(tmp_path / out)]
    assert main(base) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "rankiqa: skipped 2 files: 1 RAW/HEIF photo (not supported: .cr2), 1 other "
        "file (.txt); --verbose names them"
    ]
    assert main([*base, "--verbose"]) == 0
    err = capsys.readouterr().err
    assert f"skipped {folder / 'IMG_0001.CR2'}: camera RAW files (.CR2) are not supported" in err
    assert f"skipped {folder / 'notes.txt'}: not an image file name (.txt)" in err


def test_explicit_unsupported_files_get_error_rows(
    tmp_path: Path, stats_model_file, capsys
) -> None:
    folder = tmp_path / "shoot"
    write_awkward_folder(folder)
    names = ["IMG_0001.CR2", "notes.txt"]
    code = main(
        ["score", *(str(folder / n) for n in names), "-m", str(stats_model_file), "-f", "csv"]
    )
    rows = {Path(r["path"]).name: r for r in csv.DictReader(capsys.readouterr().out.splitlines())}
    assert code == 1 and sorted(rows) == names
    assert "camera RAW files (.CR2) are not supported" in rows["IMG_0001.CR2"]["error"]
    assert "not a recognised image file" in rows["notes.txt"]["error"]


def test_evaluate_output_suffix_and_folder(tmp_path: Path, capsys) -> None:
    base = ["evaluate", "--model", "m", "--dataset", "csv", "--root", str(tmp_path)]
    assert main([*base, "-o", str(tmp_path / "e.csv")]) == 2
    assert "name a .json file" in capsys.readouterr().err
    assert main([*base, "--plot", str(tmp_path / "p.pdf")]) == 2
    assert "--plot" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_heic_photos_score(tmp_path: Path, capsys) -> None:
    """An iPhone-style HEIC (written with pillow-heif) is found by a folder scan and scores
    like the same picture as PNG; a broken one gets its error row."""
    pillow_heif = pytest.importorskip("pillow_heif")

    picture = Image.fromarray(natural_image(240, 320, seed=4))
    heif = pillow_heif.from_pillow(picture)
    heif.save(tmp_path / "IMG_0001.HEIC", quality=95)
    picture.save(tmp_path / "IMG_0001.png")
    (tmp_path / "IMG_0002.heic").write_bytes(bytes(100))
    assert main(["score", str(tmp_path), "-f", "csv"]) == 1
    rows = {Path(r["path"]).name: r for r in csv.DictReader(capsys.readouterr().out.splitlines())}
    assert sorted(rows) == ["IMG_0001.HEIC", "IMG_0001.png", "IMG_0002.heic"]
    assert abs(float(rows["IMG_0001.HEIC"]["score"]) - float(rows["IMG_0001.png"]["score"])) < 5
    assert rows["IMG_0002.heic"]["score"] == "" and rows["IMG_0002.heic"]["error"]


def test_skipped_sub_folders_are_reported(tmp_path: Path, capsys) -> None:
    Image.fromarray(natural_image(64, 80)).save(tmp_path / "a.png")
    (tmp_path / "degraded" / "deeper").mkdir(parents=True)
    for name in ("degraded/b.png", "degraded/deeper/c.png"):
        Image.fromarray(natural_image(64, 80, seed=2)).save(tmp_path / name)
    assert main(["score", str(tmp_path), "-f", "csv"]) == 0
    err = capsys.readouterr().err
    assert "2 images in sub-folders (not searched: add -r / --recursive)" in err
    assert main(["score", str(tmp_path), "-f", "csv", "-r"]) == 0
    assert "sub-folders" not in capsys.readouterr().err


def test_heif_decodes_without_a_folder_scan_first(tmp_path: Path) -> None:
    """pillow-heif is registered lazily: in a fresh process a HEIC named as such, and one
    misnamed .jpg, decode through read_image with nothing scanned before."""
    pillow_heif = pytest.importorskip("pillow_heif")
    picture = Image.fromarray(natural_image(64, 80, seed=5))
    for name in ("a.HEIC", "misnamed.jpg"):
        pillow_heif.from_pillow(picture).save(tmp_path / name, quality=95)
    code = (
        "import sys; from rankiqa.core.imageio import read_image\n"
        "assert 'pillow_heif' not in sys.modules\n"
        f"print(read_image({str(tmp_path / 'a.HEIC')!r}).shape)\n"
        f"print(read_image({str(tmp_path / 'misnamed.jpg')!r}).shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["(64, 80, 3)", "(64, 80, 3)"]


def test_one_photo_run_loads_only_what_it_needs(photo: Path) -> None:
    """The cold start of ``rankiqa score ONE.jpg`` (issue 27): no scan of every Pillow plugin,
    no pillow-heif, no multiprocessing (workers are not started for one photo)."""
    code = (
        "import sys; from rankiqa.cli import main\n"
        f"assert main(['score', {str(photo)!r}]) == 0\n"
        "heavy = ['PIL.TiffImagePlugin', 'PIL.PdfImagePlugin', 'pillow_heif', 'multiprocessing']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
