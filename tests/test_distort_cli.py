"""``rankiqa distort``: manifest, resume, determinism across workers, error handling."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import natural_image
from rankiqa.cli import main
from rankiqa.core.imageio import read_image


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(natural_image(48, 64, seed=1)).save(root / "a.png")
    grey = natural_image(40, 56, seed=2)[:, :, 0]
    Image.fromarray(grey).save(root / "sub" / "b.jpg", quality=95)
    return root


def run(*args: str) -> int:
    return main(["distort", *map(str, args), "--no-progress"])


def manifest(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def snapshot(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*.png")}


@pytest.mark.parametrize(("preset", "per_ref"), [("live", 1 + 4 * 5), ("tid2013", 1 + 19 * 4)])
def test_manifest_rows(src, tmp_path, preset, per_ref):
    out = tmp_path / "out"
    assert run(src, out, "--preset", preset, "--workers", "1") == 0
    rows = manifest(out)
    assert len(rows) == 2 * per_ref
    assert list(rows[0]) == ["path", "reference", "distortion", "level"]
    keys = [(r["reference"], r["distortion"], int(r["level"])) for r in rows]
    assert keys == sorted(keys)
    assert {r["reference"] for r in rows} == {"a", "sub/b"}
    for r in rows:
        assert (out / r["path"]).is_file()
        name = "pristine" if r["distortion"] == "pristine" else f"{r['distortion']}_{r['level']}"
        assert r["path"] == f"{r['reference']}/{name}.png"
        assert (r["distortion"] == "pristine") == (r["level"] == "0")
    # grey JPEG source becomes an RGB pristine PNG identical to the decoded source
    pristine = read_image(out / "sub" / "b" / "pristine.png")
    assert pristine.shape == (40, 56, 3)
    assert np.array_equal(pristine, read_image(src / "sub" / "b.jpg"))
    info = json.loads((out / "preset.json").read_text())
    assert info["preset"] == preset and info["seed"] == 0 and info["max_side"] is None
    assert len(info["groups"]) == (4 if preset == "live" else 19)
    assert not list(out.rglob("*.tmp"))


def test_resume_rewrites_nothing_and_repairs_killed_run(src, tmp_path):
    out = tmp_path / "out"
    assert run(src, out, "--workers", "1") == 0
    before = snapshot(out)
    content = (out / "a" / "wn_3.png").read_bytes()
    assert run(src, out, "--workers", "1") == 0
    assert snapshot(out) == before

    # a killed run: some files never written, a half-written temporary left behind
    (out / "a" / "wn_3.png").unlink()
    (out / "sub" / "b" / "pristine.png").unlink()
    stale = out / "a" / ".wn_3.png.x1y2z3.tmp"
    stale.write_bytes(b"\x89PNG half")
    (out / "manifest.csv").unlink()
    assert run(src, out, "--workers", "1") == 0
    assert not stale.exists()
    assert (out / "a" / "wn_3.png").read_bytes() == content
    after = snapshot(out)
    assert set(after) == set(before)
    unchanged = {k for k in before if before[k] == after[k]}
    assert unchanged == set(before) - {"a/wn_3.png", "sub/b/pristine.png"}
    assert len(manifest(out)) == 2 * 21


def test_workers_do_not_change_output(src, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert run(src, one, "--workers", "1", "--seed", "5") == 0
    assert run(src, two, "--workers", "2", "--seed", "5") == 0
    assert (one / "manifest.csv").read_text() == (two / "manifest.csv").read_text()
    for path in one.rglob("*.png"):
        assert path.read_bytes() == (two / path.relative_to(one)).read_bytes(), path


def test_seed_changes_noise(src, tmp_path):
    assert run(src, tmp_path / "s0", "--workers", "1", "--seed", "0") == 0
    assert run(src, tmp_path / "s1", "--workers", "1", "--seed", "1") == 0
    a, b = (read_image(tmp_path / s / "a" / "wn_2.png") for s in ("s0", "s1"))
    assert not np.array_equal(a, b)


def test_other_settings_on_existing_out_refused(src, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(src, out, "--workers", "1") == 0
    capsys.readouterr()
    assert run(src, out, "--workers", "1", "--seed", "3") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rankiqa: error:") and "seed=0" in err[0]


def test_max_side(src, tmp_path):
    out = tmp_path / "out"
    assert run(src, out, "--workers", "1", "--max-side", "40") == 0
    assert read_image(out / "a" / "pristine.png").shape == (30, 40, 3)
    assert read_image(out / "a" / "jp2k_5.png").shape == (30, 40, 3)
    assert read_image(out / "sub" / "b" / "pristine.png").shape == (29, 40, 3)  # 40×56 -> 29×40


def test_unreadable_source_is_named_and_skipped(src, tmp_path, capsys):
    (src / "broken.png").write_bytes(b"not an image at all")
    out = tmp_path / "out"
    assert run(src, out, "--workers", "2") == 1
    err = capsys.readouterr().err
    assert "broken.png" in err
    rows = manifest(out)
    assert len(rows) == 2 * 21 and "broken" not in {r["reference"] for r in rows}
    assert not (out / "broken").exists()


@pytest.mark.parametrize("case", ["empty", "missing", "file"])
def test_bad_src_is_one_error_line(tmp_path, capsys, case):
    src = tmp_path / "src"
    if case == "empty":
        src.mkdir()
        (src / "notes.txt").write_text("no images here")
    elif case == "file":
        src.write_text("x")
    assert run(src, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rankiqa: error:") and str(src) in err[0]
    assert not (tmp_path / "out").exists()


def test_unknown_preset_is_argparse_error(src, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run(src, tmp_path / "out", "--preset", "csiq")
    assert exc.value.code == 2
    assert "invalid choice: 'csiq'" in capsys.readouterr().err


def test_out_inside_src_is_not_read_back(src, capsys):
    out = src / "ranked"
    assert run(src, out, "--workers", "1") == 0
    assert run(src, out, "--workers", "1") == 0
    assert {r["reference"] for r in manifest(out)} == {"a", "sub/b"}


def test_source_formats(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rgb = natural_image(48, 64, seed=5)
    Image.fromarray(rgb).convert("RGBA").save(src / "rgba.png")
    Image.fromarray(rgb).save(src / "pic.bmp")
    Image.fromarray(rgb).save(src / "pic2.tiff")
    Image.fromarray(rgb).save(src / "pic3.webp", lossless=True)
    wide = (rgb[:, :, 1].astype(np.uint16) * 257).astype(np.uint16)
    Image.fromarray(wide).save(src / "grey16.png")  # uint16 -> mode I;16
    with Image.open(src / "grey16.png") as im:
        assert im.mode in ("I;16", "I")  # really a 16-bit source
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise on display
    Image.fromarray(rgb).save(src / "rotated.jpg", quality=95, exif=exif.tobytes())
    out = tmp_path / "out"
    assert run(src, out, "--workers", "1") == 0
    shapes = {
        ref: read_image(out / ref / "pristine.png").shape
        for ref in ("rgba", "pic", "pic2", "pic3", "grey16", "rotated")
    }
    assert shapes.pop("rotated") == (64, 48, 3)
    assert set(shapes.values()) == {(48, 64, 3)}
    assert np.array_equal(read_image(out / "pic3" / "pristine.png"), rgb)
    grey = read_image(out / "grey16" / "pristine.png")
    assert np.array_equal(grey[:, :, 0], rgb[:, :, 1]) and np.array_equal(
        grey[:, :, 2], rgb[:, :, 1]
    )


def test_changed_distortion_parameters_refused(src, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(src, out, "--workers", "1") == 0
    info = json.loads((out / "preset.json").read_text())
    info["groups"]["wn"]["levels"][0] = 0.5
    (out / "preset.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert run(src, out, "--workers", "1") == 2
    assert "other distortion parameters" in capsys.readouterr().err
