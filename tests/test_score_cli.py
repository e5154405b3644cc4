"""``rankiqa score``: formats, row errors, exit codes, resume after a kill, shards."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import natural_image
from rankiqa.cli import main
from rankiqa.inference import load_model
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.saving import save_model
from rankiqa.inference.scoring.inputs import expand_inputs, select_shard, shard_of
from test_imageio import forged_png


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    protocol = {"resize": 200, "test_crops": "center", "crop_size": 192}
    model = untrained_model("shallow", input=protocol, score={"offset": 50.0, "scale": 10.0})
    return save_model(model, tmp_path_factory.mktemp("model") / "tiny.safetensors")


def good_images(folder: Path, count: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i:02d}.png"
        Image.fromarray(natural_image(60 + 7 * i, 80, seed=i)).save(path)
        paths.append(path)
    return paths


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def score(args: list, capsys) -> tuple[int, str, str]:
    code = main(["score", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_bad_inputs_get_row_errors_and_exit_1(tmp_path: Path, model_file: Path, capsys) -> None:
    folder = tmp_path / "imgs"
    good = good_images(folder, 3)
    (folder / "zero.jpg").write_bytes(b"")
    Image.fromarray(natural_image()).save(folder / "trunc.jpg", quality=90)
    (folder / "trunc.jpg").write_bytes((folder / "trunc.jpg").read_bytes()[:300])
    (folder / "text.png").write_text("hello")
    forged_png(folder / "bomb.png", 40_000, 40_000)
    big = folder / "big.png"
    Image.fromarray(natural_image(120, 120)).save(big)
    missing = tmp_path / "missing.png"
    code, out, err = score(
        [folder, missing, "-m", model_file, "-f", "csv", "--workers", "2", "--max-pixels", 10_000],
        capsys,
    )
    assert code == 1
    assert "6 of 9 files could not be scored" in err
    assert out.splitlines()[0] == "path,score,error"
    rows = {Path(r["path"]).name: r for r in read_csv(out)}
    assert len(rows) == 9
    for name in ("zero.jpg", "trunc.jpg", "text.png", "bomb.png", "big.png", "missing.png"):
        assert rows[name]["score"] == "" and rows[name]["error"], name
    assert "0 bytes" in rows["zero.jpg"]["error"]
    assert "decompression bomb" in rows["bomb.png"]["error"]
    assert "limit" in rows["big.png"]["error"]
    assert "no such file" in rows["missing.png"]["error"]
    model = load_model(model_file)
    for path in good:
        row = rows[path.name]
        assert row["error"] == ""
        assert float(row["score"]) == pytest.approx(model.score(path), abs=1e-3)


def test_pixel_formats_all_score(tmp_path: Path, model_file: Path, capsys) -> None:
    image = natural_image(64, 96)
    folder = tmp_path / "formats"
    folder.mkdir()
    pil = Image.fromarray(image)
    pil.convert("L").save(folder / "grey.png")
    pil.convert("RGBA").save(folder / "rgba.png")
    pil.convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png")
    pil.convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(image[..., 0].astype(np.uint16) * 257).save(folder / "grey16.png")
    cv2.imwrite(str(folder / "rgb16.png"), image.astype(np.uint16)[..., ::-1] * 257)
    exif = Image.Exif()
    exif[0x0112] = 8
    pil.save(folder / "rotated.png", exif=exif)
    pil.save(folder / "plain.bmp")
    code, out, _ = score([folder, "-m", model_file, "-f", "jsonl", "--workers", "0"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 8 and all(r["error"] == "" and r["score"] is not None for r in rows)
    model = load_model(model_file)
    scores = {Path(r["path"]).name: r["score"] for r in rows}
    assert scores["plain.bmp"] == pytest.approx(model.score(image), abs=1e-4)
    assert scores["rotated.png"] == pytest.approx(model.score(np.rot90(image).copy()), abs=1e-4)
    assert scores["rgb16.png"] == pytest.approx(scores["plain.bmp"], abs=1e-3)


def test_output_formats(tmp_path: Path, model_file: Path, capsys) -> None:
    paths = good_images(tmp_path / "imgs", 3)
    base = ["-m", model_file, "--workers", "0"]
    _, table, _ = score([tmp_path / "imgs", *base], capsys)
    lines = table.splitlines()
    assert lines[0].split() == ["path", "score", "error"] and len(lines) == 4
    assert len({line.index(line.split()[1]) + len(line.split()[1]) for line in lines}) == 1
    _, js, _ = score([tmp_path / "imgs", *base, "-f", "json"], capsys)
    rows = json.loads(js)
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    out = tmp_path / "out" / "scores.jsonl"
    assert score([tmp_path / "imgs", *base, "-o", out], capsys)[0] == 0
    assert [json.loads(x)["score"] for x in out.read_text().splitlines()] == pytest.approx(
        [r["score"] for r in rows], abs=1e-5
    )


def test_globs_folders_recursive(tmp_path: Path, model_file: Path, capsys) -> None:
    good_images(tmp_path / "a", 2)
    good_images(tmp_path / "a" / "deep", 2)
    assert len(expand_inputs([tmp_path / "a"])) == 2
    assert len(expand_inputs([tmp_path / "a"], recursive=True)) == 4
    assert len(expand_inputs([str(tmp_path / "a" / "*.png")])) == 2
    assert len(expand_inputs([str(tmp_path / "**" / "*.png")], recursive=True)) == 4
    assert len(expand_inputs([tmp_path / "a", str(tmp_path / "a" / "img00.png")])) == 2
    code, out, err = score([str(tmp_path / "*.gif"), "-m", model_file], capsys)
    assert code == 1 and "matches no image files" in out and "1 of 1 files" in err


def test_resume_after_kill_has_no_duplicates(tmp_path: Path, model_file: Path, capsys) -> None:
    good_images(tmp_path / "imgs", 6)
    out = tmp_path / "scores.csv"
    args = [tmp_path / "imgs", "-m", model_file, "-o", out, "--workers", "0", "--batch-size", "2"]
    assert score(args, capsys)[0] == 0
    complete = out.read_text()
    lines = complete.splitlines(keepends=True)
    assert len(lines) == 7
    out.write_text("".join(lines[:3]) + lines[3][:12])  # killed while writing the 3rd row
    assert score([*args, "--resume"], capsys)[0] == 0
    resumed = read_csv(out.read_text())
    assert sorted(r["path"] for r in resumed) == sorted(r["path"] for r in read_csv(complete))
    assert len(resumed) == 6
    assert {r["path"]: r["score"] for r in resumed} == {
        r["path"]: r["score"] for r in read_csv(complete)
    }
    assert score([*args, "--resume"], capsys)[0] == 0  # nothing left: unchanged
    assert len(read_csv(out.read_text())) == 6
    code, _, err = score([tmp_path / "imgs", "-m", model_file, "--resume"], capsys)
    assert code == 2 and "--output" in err


def test_shards_partition_exactly(tmp_path: Path, model_file: Path, capsys) -> None:
    paths = [f"dir/img{i:04d}.jpg" for i in range(500)]
    shards = [set(select_shard(paths, i, 7)) for i in range(1, 8)]
    assert set().union(*shards) == set(paths)
    assert sum(len(s) for s in shards) == len(paths)  # pairwise disjoint
    assert all(40 <= len(s) <= 105 for s in shards)
    assert shard_of(paths[0], 7) == shard_of(paths[0], 7)
    good_images(tmp_path / "imgs", 8)
    seen = []
    for i in (1, 2, 3):
        code, out, _ = score(
            [
                tmp_path / "imgs",
                "-m",
                model_file,
                "-f",
                "csv",
                "--workers",
                "0",
                "--shard",
                f"{i}/3",
            ],
            capsys,
        )
        assert code == 0
        seen += [r["path"] for r in read_csv(out)]
    assert sorted(seen) == [str(p) for p in sorted((tmp_path / "imgs").glob("*.png"))]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--shard", "0/2"], "--shard"),
        (["--shard", "3"], "--shard"),
        (["-m", "nowhere/x.safetensors"], "model file not found"),
    ],
)
def test_bad_options_one_line_error(tmp_path: Path, model_file, capsys, extra, message) -> None:
    good_images(tmp_path / "imgs", 1)
    args = [tmp_path / "imgs", "-m", model_file, *extra]
    try:
        code, out, err = score(args, capsys)
    except SystemExit as exc:  # refused while parsing: usage line + error line
        code, err = exc.code, capsys.readouterr().err
        assert err.startswith("usage: rankiqa score")
        err = err.strip().splitlines()[-1]
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["score", str(tmp_path), "--batch-size", "0"])


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`rankiqa score DIR | head -1`: no traceback when the reader stops early."""
    import subprocess
    import sys

    from PIL import Image

    from rankiqa.inference.model.loading import untrained_model
    from rankiqa.inference.model.saving import save_model

    model = save_model(untrained_model("shallow"), tmp_path / "m.safetensors")
    for i in range(40):
        Image.new("RGB", (64, 64), (i * 6, 80, 120)).save(tmp_path / f"{i:02d}.png")
    cmd = [sys.executable, "-m", "rankiqa", "score", str(tmp_path), "-m", str(model)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err
