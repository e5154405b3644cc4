"""The distortion presets of RankIQA (group name -> :class:`Distortion`): LIVE and TID2013,
``mlive``, two multiply distorted groups in the manner of LIVE MD, and ``exposure``
(over/under-exposure in stops and contrast decrease, the errors of real photos)."""

from __future__ import annotations

from rankiqa.distortions.combined import CombinedDistortion
from rankiqa.distortions.registry import Distortion

_LIVE_BLUR = (1.2, 2.5, 6.5, 15.2, 33.2)
_LIVE_JP2K = (52, 150, 343, 600, 1200)

LIVE: dict[str, Distortion] = {
    "gblur": Distortion("gblur", "gaussian_blur", _LIVE_BLUR, "sigma (px)", "Gaussian blur"),
    "wn": Distortion(
        "wn",
        "white_noise",
        (2**-10, 2**-7.5, 2**-5.5, 2**-3.5, 2**0),
        "variance on [0,1]",
        "white Gaussian noise",
    ),
    "jpeg": Distortion("jpeg", "jpeg", (43, 12, 7, 4, 0), "JPEG quality", "JPEG compression"),
    "jp2k": Distortion(
        "jp2k", "jpeg2000", _LIVE_JP2K, "compression ratio", "JPEG 2000 compression"
    ),
}

TID2013: dict[str, Distortion] = {
    "awgn": Distortion(
        "awgn", "white_noise", (0.001, 0.005, 0.01, 0.05), "variance on [0,1]", "#1 additive noise"
    ),
    "color_noise": Distortion(
        "color_noise",
        "color_noise",
        (0.0140, 0.0198, 0.0343, 0.0524),
        "chroma variance on [0,1]",
        "#2 additive noise in colour components",
    ),
    "hf_noise": Distortion(
        "hf_noise",
        "high_frequency_noise",
        (0.001, 0.005, 0.01, 0.05),
        "variance on [0,1]",
        "#5 high-frequency noise",
    ),
    "impulse_noise": Distortion(
        "impulse_noise",
        "impulse_noise",
        (0.005, 0.01, 0.05, 0.1),
        "density",
        "#6 impulse noise",
    ),
    "quantization": Distortion(
        "quantization", "quantization", (9, 7, 5, 3), "levels per channel", "#7 quantisation noise"
    ),
    "gblur": Distortion("gblur", "gaussian_blur", _LIVE_BLUR[:4], "sigma (px)", "#8 Gaussian blur"),
    "denoising": Distortion(
        "denoising",
        "denoised_noise",
        (10, 20, 30, 45),
        "noise std (0..255) before denoising",
        "#9 image denoising (OpenCV non-local means)",
    ),
    "jpeg": Distortion("jpeg", "jpeg", (43, 12, 7, 4), "JPEG quality", "#10 JPEG compression"),
    "jp2k": Distortion(
        "jp2k", "jpeg2000", _LIVE_JP2K[:4], "compression ratio", "#11 JPEG 2000 compression"
    ),
    "pattern_noise": Distortion(
        "pattern_noise",
        "pattern_noise",
        (30, 70, 150, 300),
        "15×15 patch swaps",
        "#14 non-eccentricity pattern noise",
    ),
    "block_wise": Distortion(
        "block_wise",
        "block_distortion",
        (2, 4, 8, 16),
        "32×32 blocks",
        "#15 local block-wise distortions",
    ),
    "mean_shift_up": Distortion(
        "mean_shift_up", "mean_shift", (15, 30, 45, 60), "grey levels", "#16 mean shift (up)"
    ),
    "mean_shift_down": Distortion(
        "mean_shift_down",
        "mean_shift",
        (-15, -30, -45, -60),
        "grey levels",
        "#16 mean shift (down)",
    ),
    "contrast_down": Distortion(
        "contrast_down", "contrast", (0.85, 0.7, 0.55, 0.4), "factor", "#17 contrast (down)"
    ),
    "contrast_up": Distortion(
        "contrast_up", "contrast", (1.2, 1.4, 1.6, 1.8), "factor", "#17 contrast (up)"
    ),
    "saturation": Distortion(
        "saturation", "saturation", (0.4, 0.0, -0.4, -0.8), "chroma factor", "#18 saturation"
    ),
    "multiplicative_noise": Distortion(
        "multiplicative_noise",
        "multiplicative_noise",
        (0.05, 0.09, 0.13, 0.2),
        "variance",
        "#19 multiplicative Gaussian noise",
    ),
    "color_quantization": Distortion(
        "color_quantization",
        "color_quantization_dither",
        (64, 32, 16, 8),
        "colours",
        "#22 colour quantisation with dither",
    ),
    "chromatic_aberration": Distortion(
        "chromatic_aberration",
        "chromatic_aberration",
        (2, 6, 10, 14),
        "k (shifts k-1 and k/2-1 px)",
        "#23 chromatic aberration",
    ),
}

_STOPS = (0.5, 1.0, 1.5, 2.0, 3.0)

#: Exposure and contrast errors of real photos, 3 groups x 5 levels (the LIVE layout): over-
#: and under-exposure in stops (linear light), and TID2013's contrast decrease carried on.
EXPOSURE: dict[str, Distortion] = {
    "over": Distortion("over", "exposure", _STOPS, "stops (EV)", "over-exposure"),
    "under": Distortion(
        "under", "exposure", tuple(-s for s in _STOPS), "stops (EV)", "under-exposure"
    ),
    "contrast_down": Distortion(
        "contrast_down", "contrast", (0.8, 0.65, 0.5, 0.35, 0.2), "factor", "contrast decrease"
    ),
}

#: The stages of ``mlive`` (noise: the ``live`` preset's first three ``wn`` levels). Blur and
#: JPEG levels were chosen so that every known pair is ordered by PSNR on natural images of
#: 96 px and more (see docs/distortions.md).
_MLIVE_BLUR = Distortion("blur", "gaussian_blur", (2.0, 3.5, 5.5), "sigma (px)", "Gaussian blur")
_MLIVE_JPEG = Distortion("jpeg", "jpeg", (80, 30, 10), "JPEG quality", "JPEG compression")
_MLIVE_NOISE = Distortion(
    "noise", "white_noise", (2**-10, 2**-7.5, 2**-5.5), "variance on [0,1]", "white Gaussian noise"
)

#: Like LIVE MD's two parts: blur then JPEG, blur then white noise; 4×4 levels each (level 0
#: of a stage = that stage left out), partially ordered (see ``rankiqa.distortions.combined``).
MLIVE: dict[str, CombinedDistortion] = {
    "blurjpeg": CombinedDistortion(
        "blurjpeg", (_MLIVE_BLUR, _MLIVE_JPEG), "Gaussian blur, then JPEG (LIVE MD part 1)"
    ),
    "blurnoise": CombinedDistortion(
        "blurnoise", (_MLIVE_BLUR, _MLIVE_NOISE), "Gaussian blur, then white noise (LIVE MD part 2)"
    ),
}

PRESETS: dict[str, dict[str, Distortion | CombinedDistortion]] = {
    "live": LIVE,
    "tid2013": TID2013,
    "mlive": MLIVE,
    "exposure": EXPOSURE,
}
