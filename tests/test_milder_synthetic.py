"""benchmarks/milder_synthetic.py: an independent ranked set whose levels really get worse."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _module():
    path = ROOT / "benchmarks/milder_synthetic.py"
    spec = importlib.util.spec_from_file_location("milder_synthetic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_levels_fall_in_psnr_and_the_manifest_matches(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:128] / 16.0
    base = 128 + 60 * np.sin(xx)[..., None] * np.cos(yy)[..., None] + rng.normal(0, 4, (96, 128, 3))
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(src / "photo.png")
    out = tmp_path / "out"
    assert _module().make_set(src, out, max_side=512) == 1
    with open(out / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 21 and sum(r["level"] == "0" for r in rows) == 1
    ref = np.asarray(Image.open(out / "photo/pristine.png"), np.float64)
    for dist in ("gblur", "wn", "jpeg", "jp2k"):
        errors = [
            ((np.asarray(Image.open(out / f"photo/{dist}_{k}.png"), np.float64) - ref) ** 2).mean()
            for k in range(1, 6)
        ]
        assert errors[0] > 0 and errors == sorted(set(errors)), (dist, errors)
    assert not list(out.rglob(".*.tmp"))
