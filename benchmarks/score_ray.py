"""Scoring speed of the local engine and of Ray on the same images, and Ray's overhead.

Prints one JSON object. Both engines score the same generated 500×500 JPEGs with the packaged
model (``rankiqa.load_model()``) on 2 cores: the local engine as ``rankiqa score`` runs it
(``iter_scores``: 2 decoding workers, 2 torch threads), Ray as ``rankiqa score --engine ray``
runs it (a local Ray instance with 2 CPUs, 2 actors of 1 CPU that decode and score). Ray's
start-up (``ray.init``) is reported separately; each Ray run also starts its actor pool and
ships the model, reported as the time to the first row. Runs alternate (local, ray, local,
...) and the best of each is kept, to spread the load of other processes.

    python benchmarks/score_ray.py --n 500 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from PIL import Image

import rankiqa
from rankiqa.inference.scoring.batch import ScoredImage, iter_scores
from rankiqa.inference.scoring.cpu import configure_cpu
from score import synthetic_photo  # benchmarks/score.py's images (this folder is on the path)

CORES = 2


def make_jpegs(folder: Path, n: int) -> list[str]:
    paths = []
    for i in range(n):
        path = folder / f"{i:04d}.jpg"
        Image.fromarray(synthetic_photo(i)).save(path, quality=90)
        paths.append(str(path))
    return paths


def timed(rows: Callable[[], Iterator[ScoredImage]]) -> tuple[float, list[ScoredImage]]:
    """Wall seconds of a whole run (until its last row) and its rows."""
    start = time.perf_counter()
    out = list(rows())
    return time.perf_counter() - start, out


def fixed_and_marginal(small: int, large: int, t_small: float, t_large: float) -> dict:
    """The straight line through (images, seconds) of two run sizes: fixed seconds per run
    (start-up) and marginal milliseconds per image (throughput once running)."""
    marginal = (t_large - t_small) / (large - small)
    return {
        "fixed_s": round(t_small - marginal * small, 2),
        "marginal_ms_per_image": round(1000 * marginal, 2),
        "marginal_images_per_s": round(1 / marginal, 2) if marginal > 0 else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="images (default 500)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each engine (best kept)")
    parser.add_argument("--object-store-mb", type=int, default=200)
    args = parser.parse_args()

    configure_cpu(CORES)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="rankiqa-ray-bench-") as folder:
        result = run(args, make_jpegs(Path(folder), args.n), load_start)
    print(json.dumps(result, indent=2))


def run(args: argparse.Namespace, paths: list[str], load_start: float) -> dict:
    import ray

    from rankiqa.integrations.ray import iter_scores_ray

    model = rankiqa.load_model()

    start = time.perf_counter()
    ray.init(
        address="local",
        num_cpus=CORES,
        object_store_memory=args.object_store_mb * 1024 * 1024,
        include_dashboard=False,
        logging_level="WARNING",
    )
    ray_init_s = time.perf_counter() - start
    ray.data.DataContext.get_current().enable_progress_bars = False

    sizes = (max(2, args.n // 5), args.n)
    engines: dict[str, Callable[[list[str]], Iterator[ScoredImage]]] = {
        "local": lambda p: iter_scores(model, p, args.batch_size, workers=CORES),
        "ray": lambda p: iter_scores_ray(model, p, args.batch_size, num_actors=CORES),
    }
    walls: dict[tuple[str, int], list[float]] = {}
    rows: dict[str, list[ScoredImage]] = {}
    for _ in range(args.repeats):  # interleaved, the fastest of each kept
        for n in sizes:
            for name, run in engines.items():
                wall, rows[name] = timed(lambda run=run, n=n: run(paths[:n]))
                walls.setdefault((name, n), []).append(wall)
    ray.shutdown()

    assert [r.path for r in rows["ray"]] == [r.path for r in rows["local"]] == paths
    max_diff = max(abs(a.score - b.score) for a, b in zip(rows["local"], rows["ray"], strict=True))
    best = {key: min(values) for key, values in walls.items()}
    lines = {
        name: fixed_and_marginal(*sizes, best[name, sizes[0]], best[name, sizes[1]])
        for name in engines
    }
    per_engine = {
        name: {
            "images_per_s": {str(n): round(n / best[name, n], 2) for n in sizes},
            "wall_s": {str(n): [round(w, 2) for w in walls[name, n]] for n in sizes},
            **lines[name],
        }
        for name in engines
    }
    result = {
        "benchmark": "rankiqa score: local engine vs --engine ray, same images, images/s",
        "images": {"n": args.n, "size": "500x500", "format": "JPEG q90"},
        "model": model.metadata.get("name"),
        "batch_size": args.batch_size,
        "machine": {
            "cpu_count": os.cpu_count(),
            "cores_used": CORES,
            "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "ray": ray.__version__,
            "python": sys.version.split()[0],
        },
        "local_engine": {
            "config": f"{CORES} decoding workers, {CORES} torch threads",
            **per_engine["local"],
        },
        "ray_startup_s": round(ray_init_s, 2),
        "ray_engine": {
            "config": f"local Ray, {CORES} CPUs, {CORES} actors x 1 CPU (decode + score), "
            f"object store {args.object_store_mb} MB; every run starts its actor pool",
            **per_engine["ray"],
        },
        "ray_overhead": {
            "per_image_ms": round(
                lines["ray"]["marginal_ms_per_image"] - lines["local"]["marginal_ms_per_image"], 2
            ),
            "per_run_s": round(lines["ray"]["fixed_s"] - lines["local"]["fixed_s"], 2),
            "note": "from the difference of two run sizes; ray.init is ray_startup_s",
        },
        "max_abs_score_difference": max_diff,
        "rows": {"local": len(rows["local"]), "ray": len(rows["ray"]), "expected": args.n},
        "load_average_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }
    return result


if __name__ == "__main__":
    main()
