"""Benchmark the distortion library and ``rankiqa distort``; prints JSON.

    python benchmarks/distort.py [--src DIR] [--n N] [--preset live|tid2013|both]

Per type: median milliseconds per 512×384 image (over levels and repeats). Per preset:
images written per second by the whole generator (decode, distort, PNG write) with 1 and
2 worker processes, their ratio (the scaling; needs two otherwise idle cores), and images per
CPU-second (the parallel overhead, independent of other load on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from rankiqa.core.imageio import find_images, read_image
from rankiqa.distortions import PRESETS
from rankiqa.distortions.generate import generate_ranked_set, level_rng

WIDTH, HEIGHT = 512, 384


def synthetic(seed: int) -> np.ndarray:
    """A textured, smooth-ish synthetic RGB image (used when no --src is given)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = 0.5 + 0.25 * np.sin(xx / 23.0 + seed) * np.cos(yy / 31.0)
    edges = ((xx // 40 + yy // 40) % 2) * 0.2
    detail = cv2.resize(rng.normal(0, 0.05, (HEIGHT // 4, WIDTH // 4)), (WIDTH, HEIGHT))
    img = np.stack([base + edges + detail, base * 0.8 + 0.1 + detail, 1 - base * 0.7 + edges], 2)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def fit(image: np.ndarray) -> np.ndarray:
    """Resize (area) to cover 512×384 and centre-crop to exactly 512×384."""
    h, w = image.shape[:2]
    if h > w:
        image, (h, w) = np.ascontiguousarray(np.rot90(image)), (w, h)
    scale = max(WIDTH / w, HEIGHT / h)
    size = (max(WIDTH, round(w * scale)), max(HEIGHT, round(h * scale)))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    y, x = (image.shape[0] - HEIGHT) // 2, (image.shape[1] - WIDTH) // 2
    return np.ascontiguousarray(image[y : y + HEIGHT, x : x + WIDTH])


def load_images(src: str | None, n: int) -> list[np.ndarray]:
    if src is None:
        return [synthetic(i) for i in range(n)]
    paths = find_images(src)[:n]
    if not paths:
        raise SystemExit(f"{src}: no images found")
    return [fit(read_image(p)) for p in paths]


def per_type_ms(images: list[np.ndarray], presets: list[str], repeats: int) -> dict:
    cv2.setNumThreads(1)
    result = {}
    for preset in presets:
        for name, d in PRESETS[preset].items():
            times = []
            for r in range(repeats):
                img = images[r % len(images)]
                for level in range(1, d.num_levels + 1):
                    rng = level_rng(r, "bench", name, level)
                    t0 = time.perf_counter()
                    d(img, level, rng)
                    times.append((time.perf_counter() - t0) * 1000)
            result[f"{preset}/{name}"] = round(statistics.median(times), 2)
    return result


def cpu_seconds() -> float:
    """User + system CPU time of this process and its reaped children (the pool workers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def preset_throughput(images: list[np.ndarray], preset: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="rankiqa-bench-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for i, img in enumerate(images):
            Image.fromarray(img).save(src / f"img{i:03d}.png", compress_level=1)
        out = {}
        for workers in (1, 2):
            dest = Path(tmp) / f"out{workers}"
            t0, c0 = time.perf_counter(), cpu_seconds()
            res = generate_ranked_set(src, dest, preset=preset, workers=workers, progress=False)
            seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            out[f"workers_{workers}"] = {
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
                "images": res.written,
                "images_per_s": round(res.written / seconds, 2),
                # images per CPU-second: equal for 1 and 2 workers = no parallel overhead
                "images_per_cpu_s": round(res.written / cpu, 2),
            }
        t0 = time.perf_counter()
        generate_ranked_set(src, Path(tmp) / "out2", preset=preset, workers=2, progress=False)
        rerun = time.perf_counter() - t0
    out["scaling_2_over_1"] = round(
        out["workers_2"]["images_per_s"] / out["workers_1"]["images_per_s"], 2
    )
    out["rerun_seconds"] = round(rerun, 3)
    out["references"] = len(images)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", help="folder of images (default: synthetic images)")
    parser.add_argument("--n", type=int, default=6, help="number of images (default 6)")
    parser.add_argument("--preset", choices=("live", "tid2013", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=3, help="per-type repeats (default 3)")
    args = parser.parse_args()
    presets = ["live", "tid2013"] if args.preset == "both" else [args.preset]
    images = load_images(args.src, args.n)
    report = {
        "image_size": [WIDTH, HEIGHT],
        "source": args.src or "synthetic",
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "pillow": Image.__version__,
        "per_type_median_ms": per_type_ms(images, presets, args.repeats),
        "preset_throughput": {p: preset_throughput(images, p) for p in presets},
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
