"""Distortion library: shapes, determinism, and quality falling strictly with level."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import natural_image
from rankiqa.distortions import (
    FUNCTIONS,
    LIVE,
    PRESETS,
    TID2013,
    CombinedDistortion,
    Distortion,
    get_preset,
)
from rankiqa.distortions.generate import level_rng
from rankiqa.distortions.noise import white_noise

ALL = [(preset, name) for preset, groups in PRESETS.items() for name in groups]
IDS = [f"{p}-{n}" for p, n in ALL]
# Groups whose levels are totally ordered (mlive's grids are partially ordered: test_mlive.py).
CHAINS = [(p, n) for p, n in ALL if isinstance(PRESETS[p][n], Distortion)]


def psnr(ref: np.ndarray, img: np.ndarray) -> float:
    mse = np.mean((ref.astype(np.float64) - img.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def chroma(img: np.ndarray) -> np.ndarray:
    ycrcb = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(np.float64)
    return ycrcb[:, :, 1:] - 128.0


def n_colors(img: np.ndarray) -> int:
    return len(np.unique(img.reshape(-1, 3), axis=0))


# The quantity that must strictly increase with level, per group (default: -PSNR).
def _measure(name: str, ref: np.ndarray, img: np.ndarray) -> float:
    x, r = img.astype(np.float64), ref.astype(np.float64)
    if name == "mean_shift_up":
        return x.mean() - r.mean()
    if name == "mean_shift_down":
        return r.mean() - x.mean()
    if name == "contrast_down":
        return r.std() / x.std()
    if name == "contrast_up":
        return x.std() / r.std()
    if name == "saturation":
        return float(np.abs(chroma(img) - chroma(ref)).mean())
    if name == "color_quantization":
        return -n_colors(img)
    return -psnr(ref, img)


def _test_image(name: str) -> np.ndarray:
    # JPEG 2000 needs ≈ 300×300 px before the codestream header caps the highest ratios.
    if name == "jp2k":
        return natural_image(288, 384, seed=3)
    return natural_image(96, 128, seed=3)


def test_presets_match_contract():
    assert list(LIVE) == ["gblur", "wn", "jpeg", "jp2k"]
    assert all(d.num_levels == 5 for d in LIVE.values())
    assert len(TID2013) == 19
    assert all(d.num_levels == 4 for d in TID2013.values())
    for name in ("awgn", "mean_shift_up", "mean_shift_down", "contrast_down", "contrast_up"):
        assert name in TID2013
    for groups in PRESETS.values():
        for name, d in groups.items():
            stages = d.stages if isinstance(d, CombinedDistortion) else [d]
            assert d.name == name and all(s.function in FUNCTIONS for s in stages)
    with pytest.raises(KeyError, match="unknown preset"):
        get_preset("csiq")


@pytest.mark.parametrize(("preset", "name"), ALL, ids=IDS)
@pytest.mark.parametrize("size", [(33, 47), (32, 32), (47, 32)])
def test_shape_dtype_any_size(preset, name, size):
    d: Distortion = PRESETS[preset][name]
    img = natural_image(*size, seed=1)
    for level in range(d.num_levels + 1):
        out = d(img, level, np.random.default_rng(level))
        assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(img, natural_image(*size, seed=1)), "input must not be modified"


@pytest.mark.parametrize(("preset", "name"), ALL, ids=IDS)
def test_level0_is_copy_and_seed_is_deterministic(preset, name):
    d = PRESETS[preset][name]
    img = natural_image(40, 56, seed=2)
    zero = d(img, 0, np.random.default_rng(0))
    assert zero is not img and np.array_equal(zero, img)
    for level in (1, d.num_levels):
        a = d(img, level, level_rng(7, "ref", name, level))
        b = d(img, level, level_rng(7, "ref", name, level))
        assert np.array_equal(a, b)
        assert not np.array_equal(a, img), f"{name} level {level} left the image unchanged"
    with pytest.raises(ValueError, match="level"):
        d(img, d.num_levels + 1, np.random.default_rng(0))


@pytest.mark.parametrize(("preset", "name"), CHAINS, ids=[f"{p}-{n}" for p, n in CHAINS])
def test_quality_falls_strictly_with_level(preset, name):
    d = PRESETS[preset][name]
    img = _test_image(name)
    values = [
        _measure(name, img, d(img, level, level_rng(0, "natural", name, level)))
        for level in range(d.num_levels + 1)
    ]
    assert all(b > a for a, b in zip(values[:-1], values[1:], strict=True)), f"{name}: {values}"


def test_random_distortions_depend_on_seed():
    img = natural_image(40, 56)
    for name in ("wn", "jp2k"):
        d = LIVE[name]
        a = d(img, 2, level_rng(0, "a", name, 2))
        b = d(img, 2, level_rng(1, "a", name, 2))
        assert np.array_equal(a, b) == (name == "jp2k")  # JPEG 2000 uses no randomness


def test_level_rng_depends_on_every_key_part():
    base = level_rng(0, "kodak/kodim01", "wn", 1).random(4)
    assert np.array_equal(base, level_rng(0, "kodak/kodim01", "wn", 1).random(4))
    for other in (
        level_rng(1, "kodak/kodim01", "wn", 1),
        level_rng(0, "kodak/kodim02", "wn", 1),
        level_rng(0, "kodak/kodim01", "awgn", 1),
        level_rng(0, "kodak/kodim01", "wn", 2),
    ):
        assert not np.array_equal(base, other.random(4))


def test_live_parameters():
    img = natural_image(96, 128)
    # white noise variance 2^-10 on [0,1] -> std 255 * 2^-5 ≈ 7.97 grey levels
    diff = white_noise(img, 2**-10, np.random.default_rng(0)).astype(float) - img
    assert abs(diff.std() - 255 * 2**-5) < 0.5
    # the strongest JPEG level is the encoder's lowest quality: smallest difference to pristine
    assert psnr(img, LIVE["jpeg"](img, 5)) < psnr(img, LIVE["jpeg"](img, 4))


def test_mean_shift_and_contrast_amounts():
    img = natural_image(64, 64)
    mid = np.full((32, 32, 3), 100, np.uint8)
    assert np.all(TID2013["mean_shift_up"](mid, 2) == 130)
    assert np.all(TID2013["mean_shift_down"](mid, 4) == 40)
    out = TID2013["contrast_down"](img, 4).astype(float)
    assert abs(out.std() / img.astype(float).std() - 0.4) < 0.02


def test_saturation_zero_removes_colour():
    out = TID2013["saturation"](natural_image(48, 64), 2)  # factor 0
    assert np.abs(chroma(out)).max() <= 1.0


def test_color_quantization_limits_palette():
    img = natural_image(64, 96)
    for level, colors in enumerate(TID2013["color_quantization"].levels, start=1):
        assert n_colors(TID2013["color_quantization"](img, level)) <= colors


def test_denoising_uses_a_real_denoiser():
    img = natural_image(96, 128, seed=4)
    sigma = TID2013["denoising"].levels[2]
    rng = level_rng(0, "x", "denoising", 3)
    noisy = np.clip(np.rint(img + rng.standard_normal(img.shape, dtype=np.float32) * sigma), 0, 255)
    denoised = TID2013["denoising"](img, 3, level_rng(0, "x", "denoising", 3))
    assert psnr(img, denoised) > psnr(img, noisy) + 3


def test_chromatic_aberration_shifts_red_and_blue():
    img = np.zeros((32, 64, 3), np.uint8)
    img[:, 30:34] = 255  # white vertical bar
    out = TID2013["chromatic_aberration"](img, 4)  # k = 14: red +13 px, blue -6 px
    red_cols = np.nonzero(out[16, :, 0] > 128)[0]
    blue_cols = np.nonzero(out[16, :, 2] > 128)[0]
    green_cols = np.nonzero(out[16, :, 1] > 128)[0]
    assert red_cols.min() == green_cols.min() + 13
    assert blue_cols.min() == green_cols.min() - 6


def test_block_wise_counts_blocks():
    img = np.full((256, 256, 3), 7, np.uint8)
    out = TID2013["block_wise"](img, 3, np.random.default_rng(0))  # 8 blocks of 32×32
    changed = np.any(out != img, axis=2).sum()
    # a random block colour equal to 7,7,7 is practically impossible; exactly 8 blocks
    assert changed == 8 * 32 * 32


def test_rejects_bad_images():
    with pytest.raises(ValueError, match="uint8"):
        LIVE["wn"](np.zeros((32, 32, 3), np.float32), 1)
    with pytest.raises(ValueError, match="H×W×3"):
        LIVE["wn"](np.zeros((32, 32), np.uint8), 1)
