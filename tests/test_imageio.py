"""Image decoding: every pixel format to RGB8, EXIF orientation, errors, JPEG draft decoding."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import natural_image
from rankiqa.core.imageio import ImageReadError, find_images, read_image


def forged_png(path: Path, width: int, height: int) -> Path:
    """A tiny PNG file whose header claims ``width``×``height`` pixels (decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = (
        chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def test_rgb_png_roundtrip(tmp_path: Path, image: np.ndarray) -> None:
    Image.fromarray(image).save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), image)


def test_grey_palette_rgba_cmyk(tmp_path: Path, image: np.ndarray) -> None:
    grey = Image.fromarray(image).convert("L")
    grey.save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (*image.shape[:2], 3)
    assert np.array_equal(out[..., 0], np.asarray(grey)) and np.array_equal(
        out[..., 0], out[..., 2]
    )

    palette = Image.fromarray(image).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    palette.save(tmp_path / "p.png")
    assert np.array_equal(read_image(tmp_path / "p.png"), np.asarray(palette.convert("RGB")))

    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    rgba[:10, :10, 3] = 0  # transparent corner -> white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    out = read_image(tmp_path / "t.png")
    assert (out[:10, :10] == 255).all()
    assert np.array_equal(out[20:, 20:], image[20:, 20:])

    Image.fromarray(image).convert("CMYK").save(tmp_path / "c.tif")
    out = read_image(tmp_path / "c.tif")
    assert np.abs(out.astype(int) - image.astype(int)).max() <= 2
    Image.fromarray(image).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    out = read_image(tmp_path / "c.jpg")
    assert np.abs(out.astype(float) - image.astype(float)).mean() < 6


def test_16bit_grey_and_rgb(tmp_path: Path, image: np.ndarray) -> None:
    wide = image.astype(np.uint16) * 257  # 8-bit value v -> 16-bit v*257
    Image.fromarray(wide[..., 0]).save(tmp_path / "g16.png")
    assert np.abs(read_image(tmp_path / "g16.png")[..., 0].astype(int) - image[..., 0]).max() <= 1
    cv2.imwrite(str(tmp_path / "c16.png"), wide[..., ::-1].copy())
    assert np.abs(read_image(tmp_path / "c16.png").astype(int) - image).max() <= 1


def test_exif_orientation_applied(tmp_path: Path, image: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(image).save(tmp_path / "r.png", exif=exif)
    out = read_image(tmp_path / "r.png")
    assert np.array_equal(out, np.rot90(image, k=-1))


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "missing", "bomb", "limit", "dir"])
def test_unreadable_files_raise_naming_the_file(tmp_path: Path, image, kind: str) -> None:
    path = tmp_path / f"{kind}.jpg"
    max_pixels = 100_000_000
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        Image.fromarray(image).save(path, quality=90)
        path.write_bytes(path.read_bytes()[:400])
    elif kind == "text":
        path.write_text("not an image\n")
    elif kind == "bomb":
        path = forged_png(tmp_path / "bomb.png", 40_000, 40_000)
    elif kind == "limit":
        Image.fromarray(image).save(path)
        max_pixels = 100
    elif kind == "dir":
        path.mkdir()
    with pytest.raises(ImageReadError, match=path.name):
        read_image(path, max_pixels=max_pixels)


def test_jpeg_draft_decodes_smaller_but_close(tmp_path: Path) -> None:
    big = natural_image(512, 640, seed=2)
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=95)
    full = read_image(tmp_path / "big.jpg")
    draft = read_image(tmp_path / "big.jpg", draft_size=200)
    assert full.shape == (512, 640, 3)
    assert draft.shape == (256, 320, 3)  # 1/2 scale keeps the shorter side >= 200
    assert read_image(tmp_path / "big.jpg", draft_size=300).shape == full.shape
    reference = np.asarray(Image.fromarray(full).resize((320, 256), Image.Resampling.BOX))
    assert np.abs(draft.astype(float) - reference).mean() < 3
    Image.fromarray(big).save(tmp_path / "big.png")
    assert read_image(tmp_path / "big.png", draft_size=200).shape == full.shape  # JPEG only


def test_find_images(tmp_path: Path, image) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.PNG", "a.jpg", "sub/c.bmp"):
        Image.fromarray(image).save(tmp_path / name, format="PNG")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in find_images(tmp_path, recursive=False)] == ["a.jpg", "b.PNG"]
    assert [p.name for p in find_images(tmp_path)] == ["a.jpg", "b.PNG", "c.bmp"]


def test_atomic_write_leaves_no_temp_and_uses_normal_permissions(tmp_path):
    import os

    from rankiqa.core.files import write_text_atomic

    target = tmp_path / "out.csv"
    write_text_atomic(target, "a,b\n")
    assert target.read_text() == "a,b\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
