"""Burst grouping and picks of ``rankiqa cull`` on bursts made from reference photos.

Builds a card of photos from ``SHARED/data/reference`` (Kodak, CBSD68, McMaster): bursts of
3-6 hand-shake frames of one photo (each a shifted crop; one sharp frame, the others mildly
motion-blurred, defocused or noisy), EXIF capture times (with sub-seconds) on most bursts and
none on some (as from an editor that strips metadata), and single photos in between. Then
culls it with the library and prints JSON: the adjusted Rand index of the groups against the
truth and the share of bursts whose pick is the sharp frame (targets: ARI >= 0.9, >= 90 %).

    python benchmarks/cull.py --shared ../shared [--bursts 40 --singles 30 --seed 0]
    python benchmarks/cull.py --shared ../shared --seed 1 --similarity 0.9  # another card
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from rankiqa.inference.scoring.choice import load_scorer
from rankiqa.workflow.bursts import BurstRule
from rankiqa.workflow.cull import cull

START = 1_714_557_600.0  # 2024-05-01 10:00:00


def adjusted_rand_index(truth: list[int], found: list[int]) -> float:
    """Hubert and Arabie's adjusted Rand index of two labellings."""

    def pairs(n: int) -> float:
        return n * (n - 1) / 2

    n = len(truth)
    both = sum(pairs(c) for c in Counter(zip(truth, found, strict=True)).values())
    a = sum(pairs(c) for c in Counter(truth).values())
    b = sum(pairs(c) for c in Counter(found).values())
    expected = a * b / pairs(n)
    top = (a + b) / 2
    return 1.0 if top == expected else (both - expected) / (top - expected)


def motion_blur(image: np.ndarray, length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length))
    c = (length - 1) / 2
    for t in np.linspace(-c, c, 4 * length):
        kernel[round(c + t * math.sin(angle)), round(c + t * math.cos(angle))] = 1
    kernel /= kernel.sum()
    return np.stack([ndimage.convolve(image[..., i], kernel, mode="reflect") for i in range(3)], 2)


def defocus(image: np.ndarray, radius: float) -> np.ndarray:
    r = math.ceil(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    kernel = (yy**2 + xx**2 <= radius**2).astype(np.float64)
    kernel /= kernel.sum()
    return np.stack([ndimage.convolve(image[..., i], kernel, mode="reflect") for i in range(3)], 2)


def degrade(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    x = image.astype(np.float64)
    if kind == "motion":
        x = motion_blur(x, int(rng.integers(5, 10)), float(rng.uniform(0, math.pi)))
    elif kind == "defocus":
        x = defocus(x, float(rng.uniform(1.5, 3.0)))
    elif kind == "noise":
        x = x + rng.normal(0, float(rng.uniform(6, 12)), x.shape)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def shake(image: np.ndarray, rng: np.random.Generator, keep: float = 0.94) -> np.ndarray:
    """A hand-shake frame: a crop of ``keep`` of each side at a random offset."""
    h, w = image.shape[:2]
    ch, cw = int(h * keep), int(w * keep)
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return image[top : top + ch, left : left + cw]


def save(path: Path, image: np.ndarray, seconds: float | None) -> None:
    exif = Image.Exif()
    if seconds is not None:
        whole = math.floor(seconds)
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = time.strftime("%Y:%m:%d %H:%M:%S", time.gmtime(whole))
        sub[0x9291] = f"{round((seconds - whole) * 100):02d}"
    Image.fromarray(image).save(path, quality=92, exif=exif)


def make_card(shared: Path, folder: Path, bursts: int, singles: int, seed: int):
    """Writes the card; returns (paths, true group of each, {group: sharp path})."""
    rng = np.random.default_rng(seed)
    photos = sorted((shared / "data" / "reference").glob("*/*.png"))
    chosen = [photos[i] for i in rng.permutation(len(photos))[: bursts + singles]]
    kinds = ["burst"] * bursts + ["single"] * singles
    order = rng.permutation(len(kinds))
    clock, number = START, 0
    paths, truth, sharp = [], [], {}
    for group, index in enumerate(order):
        image = np.asarray(Image.open(chosen[index]).convert("RGB"))
        timed = rng.random() < (0.75 if kinds[index] == "burst" else 0.5)
        frames = int(rng.integers(3, 7)) if kinds[index] == "burst" else 1
        best = int(rng.integers(frames))
        for frame in range(frames):
            kind = "sharp" if frame == best else str(rng.choice(["motion", "defocus", "noise"]))
            pixels = shake(image, rng) if frames > 1 else image
            number += 1
            path = folder / f"IMG_{number:04d}.jpg"
            save(path, degrade(pixels, kind, rng), clock if timed else None)
            clock += float(rng.uniform(0.1, 0.25))
            paths.append(str(path))
            truth.append(group)
            if frames > 1 and kind == "sharp":
                sharp[group] = str(path)
        clock += float(rng.uniform(3, 120))
    return paths, truth, sharp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--bursts", type=int, default=40)
    parser.add_argument("--singles", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--similarity", type=float, default=BurstRule.similarity)
    parser.add_argument("--burst-similarity", type=float, default=BurstRule.burst_similarity)
    parser.add_argument("--time-gap", type=float, default=BurstRule.time_gap)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rule = BurstRule(args.similarity, args.burst_similarity, args.time_gap)
    with tempfile.TemporaryDirectory() as tmp:
        paths, truth, sharp = make_card(
            args.shared, Path(tmp), args.bursts, args.singles, args.seed
        )
        model = load_scorer()
        started = time.perf_counter()
        rows = cull(paths, model, rule=rule, workers=args.workers)
        seconds = time.perf_counter() - started
    found = [r.group for r in rows]
    picks = {truth[i]: r.path for i, r in enumerate(rows) if r.pick}
    right = sum(picks.get(group) == path for group, path in sharp.items())
    print(json.dumps({
        "images": len(paths), "bursts": len(sharp), "singles": args.singles, "seed": args.seed,
        "rule": vars(rule), "groups_found": len(set(found)), "groups_true": len(set(truth)),
        "adjusted_rand_index": round(adjusted_rand_index(truth, found), 4),
        "sharp_picks": right, "sharp_pick_rate": round(right / max(1, len(sharp)), 4),
        "seconds": round(seconds, 1),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
