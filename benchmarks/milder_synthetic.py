"""A second synthetic check, made without rankiqa's distortion code and with milder levels.

``rankiqa distort --preset live`` uses LIVE's own levels, which reach very strong distortions
(blur sigma 33, noise variance 1, JPEG quality 0); every model trained with the ranking term
orders them perfectly. This script writes an independent ranked set — Pillow and NumPy only,
levels chosen here, from the mild end (JPEG quality 75, blur sigma 0.6) to moderate — in the
layout ``benchmarks/synthetic_pairs.py`` reads, so a model's ordering of *small* differences
can be measured too:

    python benchmarks/milder_synthetic.py ../shared/data/reference/kodak work/kodak-mild
    python benchmarks/synthetic_pairs.py work/kodak-mild --model default --model old.safetensors

Each reference is first reduced so that its longer side is at most ``--max-side`` (512), as
the LIVE-preset sets are. Files are written under a temporary name, then renamed; a rerun
keeps finished files.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

#: distortion -> (function(image, level value) -> image, the five level values, mild to strong)
LEVELS: dict[str, tuple[str, tuple[float, ...]]] = {
    "gblur": ("Gaussian blur, sigma in px", (0.6, 1.0, 1.6, 2.5, 4.0)),
    "wn": ("white Gaussian noise, sigma on 0-255", (3.0, 6.0, 10.0, 16.0, 25.0)),
    "jpeg": ("JPEG quality (Pillow)", (75, 50, 30, 18, 10)),
    "jp2k": ("JPEG 2000 compression ratio (Pillow/OpenJPEG)", (12, 24, 48, 96, 192)),
}


def _blur(image: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius=sigma))


def _noise(image: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    x = np.asarray(image, dtype=np.float32)
    x = x + rng.normal(0.0, sigma, x.shape).astype(np.float32)
    return Image.fromarray(np.clip(np.rint(x), 0, 255).astype(np.uint8))


def _codec(fmt: str, **options) -> Callable[[Image.Image], Image.Image]:
    def encode_decode(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        buffer.seek(0)
        return Image.open(buffer).convert("RGB")

    return encode_decode


def _jpeg(image: Image.Image, quality: float, rng: np.random.Generator) -> Image.Image:
    return _codec("JPEG", quality=int(quality), subsampling=0)(image)


def _jp2k(image: Image.Image, ratio: float, rng: np.random.Generator) -> Image.Image:
    return _codec("JPEG2000", quality_mode="rates", quality_layers=[float(ratio)])(image)


FUNCTIONS = {"gblur": _blur, "wn": _noise, "jpeg": _jpeg, "jp2k": _jp2k}


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG")
    os.replace(tmp, path)


def make_set(src: Path, out: Path, max_side: int = 512, seed: int = 0) -> int:
    """Write the ranked set of every image under ``src``; returns the number of references."""
    refs = sorted(p for p in src.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".bmp",
                                                                    ".tif", ".tiff", ".jpeg"})
    rows = []
    for k, ref in enumerate(refs):
        name = ref.stem
        image = Image.open(ref).convert("RGB")
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        rng = np.random.default_rng(seed * 100_003 + k)
        pristine = Path(name) / "pristine.png"
        if not (out / pristine).is_file():
            _save(image, out / pristine)
        rows.append({"path": pristine.as_posix(), "reference": name, "distortion": "pristine",
                     "level": 0})
        for dist, (_, values) in LEVELS.items():
            for level, value in enumerate(values, start=1):
                rel = Path(name) / f"{dist}_{level}.png"
                if not (out / rel).is_file():
                    _save(FUNCTIONS[dist](image, value, rng), out / rel)
                rows.append({"path": rel.as_posix(), "reference": name, "distortion": dist,
                             "level": level})
    tmp = out / ".manifest.csv.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "reference", "distortion", "level"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out / "manifest.csv")
    return len(refs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="folder of pristine photos")
    ap.add_argument("out", type=Path, help="output folder (manifest.csv + PNGs)")
    ap.add_argument("--max-side", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = make_set(args.src, args.out, args.max_side, args.seed)
    print(f"{n} references x (1 + 4 x 5) images -> {args.out / 'manifest.csv'}")


if __name__ == "__main__":
    main()
