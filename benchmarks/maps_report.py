"""Speed of quality maps and of the HTML report next to plain scoring, and how the map agrees
with the score.

Everything runs through the engine ``rankiqa score/map/report`` use
(:func:`rankiqa.inference.scoring.choice.load_scorer`: ONNX Runtime on the shipped graph for a
packaged model, ``--precision`` as in the CLI). Prints one JSON object. ``rates`` (images/s,
decode included, 2 threads, one process, the same images for every entry):

* ``score``: ``iter_scores`` as ``rankiqa score`` runs small jobs (decode in-process);
* ``map``: decode + ``quality_map`` (one forward pass over the whole resized image);
* ``report``: ``make_report`` with embedded thumbnails (decode once, score, thumbnail);
* ``report_maps``: the same with ``--maps``;
* ``report_from_csv_rows``: rows/s of a 10,000-row ``--from scores.csv --link`` page.

``cpu_ms_per_image`` gives the CPU milliseconds (both threads) of the same runs: steadier than
wall-clock rates on a busy machine.

``cpu_ms_first_image``: best-of-15 CPU milliseconds (both threads) of the steps of the first image's map: decode,
prepare (resize), the bare forward pass over the whole resized image, the whole map from the
decoded image, and what the map adds to prepare + forward (the per-region head).

``agreement`` (with ``--images`` pointing at photos, e.g. ../shared/data/reference/kodak):
Pearson r and mean absolute difference between the map's mean and ``model.score``, and the
mean drop of the left / right half of the map when the left half of the photo is blurred
(Gaussian sigma 4 px).

    python benchmarks/maps_report.py --images ../shared/data/reference/kodak
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from rankiqa.core.imageio import find_images, read_image
from rankiqa.inference.scoring.batch import iter_scores
from rankiqa.inference.scoring.choice import load_scorer, map_image
from rankiqa.inference.scoring.cpu import tune_malloc
from rankiqa.inference.scoring.views import prepare_image, to_float_chw
from rankiqa.report.html import make_report

THREADS = 2


def synthetic_photos(folder: Path, n: int) -> list[str]:
    """768×512 textured JPEGs (when no real photos are given)."""
    rng = np.random.default_rng(0)
    paths = []
    yy, xx = np.mgrid[0:512, 0:768].astype(np.float32) / 512
    for i in range(n):
        img = np.zeros((512, 768, 3), np.float32) + 0.5
        for _ in range(6):
            fx, fy, phase = rng.uniform(1, 12), rng.uniform(1, 12), rng.uniform(0, 6.3)
            amp = rng.uniform(0.05, 0.2, 3)
            img += amp * np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)[..., None]
        img += rng.normal(0, 0.03, img.shape)
        path = folder / f"synthetic{i:03d}.jpg"
        Image.fromarray(np.clip(img * 255, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(str(path))
    return paths


CPU_MS: dict[str, float] = {}


def rate(name: str, fn, count: int, repeat: int = 2) -> float:
    """Best images/s over ``repeat`` runs of ``fn`` (which handles ``count`` images) after one
    untimed warm-up run; the lowest CPU milliseconds per image go to ``CPU_MS[name]``."""
    fn()
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    CPU_MS[name] = round(best_cpu * 1000 / count, 2 if count > 1000 else 1)
    return round(count / best, 2)


def blur_left(image: np.ndarray) -> np.ndarray:
    out = image.copy()
    half = image.shape[1] // 2
    out[:, :half] = cv2.GaussianBlur(image[:, :half], (0, 0), 4)
    return out


def best_ms(fn, repeat: int = 15) -> float:
    """Lowest CPU milliseconds (all threads of this process) of one call: steadier than wall
    time on a shared machine."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return round(best * 1000, 1)


def quality_map(model, image):
    return map_image(model, image)


def components(model, path: str) -> dict:
    """Best-of-15 CPU milliseconds of the steps of a map of one image (ONNX Runtime model)."""
    image = read_image(path)
    x = np.ascontiguousarray(prepare_image(to_float_chw(image), model.protocol)[None])
    result = {
        "decode": best_ms(lambda: read_image(path)),
        "prepare": best_ms(lambda: prepare_image(to_float_chw(image), model.protocol)),
        "forward_full_image": best_ms(lambda: model.session.run(None, {"image": x})),
        "map_from_decoded": best_ms(lambda: quality_map(model, image)),
        "score_from_decoded": best_ms(lambda: model.score(image)),
    }
    extra = result["map_from_decoded"] - result["prepare"] - result["forward_full_image"]
    result["map_minus_prepare_and_forward"] = round(extra, 1)
    return result


def agreement(model, paths: list[str]) -> dict:
    scores, pooled, whole, drop_left, drop_right = [], [], [], [], []
    for path in paths:
        image = read_image(path)
        qmap = quality_map(model, image)
        scores.append(float(model.score(image)))
        pooled.append(qmap.pooled)
        whole.append(qmap.score)
        blurred = quality_map(model, blur_left(image)).values
        cols = qmap.values.shape[1]
        left, right = slice(0, cols // 2), slice((cols + 1) // 2, cols)
        drop_left.append(float(qmap.values[:, left].mean() - blurred[:, left].mean()))
        drop_right.append(float(qmap.values[:, right].mean() - blurred[:, right].mean()))
    s, p, w = (np.asarray(v) for v in (scores, pooled, whole))
    return {
        "images": len(paths),
        "map_shape_first": list(quality_map(model, read_image(paths[0])).values.shape),
        "pooled_vs_score_pearson": round(float(np.corrcoef(s, p)[0, 1]), 3),
        "pooled_vs_score_mean_abs_diff": round(float(np.abs(s - p).mean()), 2),
        "pooled_minus_score_mean": round(float((p - s).mean()), 2),
        "whole_image_vs_score_pearson": round(float(np.corrcoef(s, w)[0, 1]), 3),
        "blur_left_drop_left_half_mean": round(float(np.mean(drop_left)), 2),
        "blur_left_drop_right_half_mean": round(float(np.mean(drop_right)), 2),
        "blur_left_images_left_drop_over_4x_right": int(
            sum(dl > 4 * abs(dr) for dl, dr in zip(drop_left, drop_right, strict=True))
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default=None, help="folder of photos (default: synthetic)")
    parser.add_argument("--n", type=int, default=24, help="images to time")
    parser.add_argument("--model", default=None, help="model (default: the packaged one)")
    parser.add_argument("--precision", default="auto", help="auto, fp32 or int8 (as the CLI)")
    args = parser.parse_args()
    tune_malloc()
    model = load_scorer(args.model, threads=THREADS, precision=args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if args.images:
            paths = [str(p) for p in find_images(args.images)][: args.n]
        else:
            paths = synthetic_photos(tmp_path, args.n)
        n = len(paths)

        def score() -> None:
            for _ in iter_scores(model, paths, workers=0):
                pass

        def maps() -> None:
            for path in paths:
                quality_map(model, read_image(path))

        rates = {
            "score": rate("score", score, n),
            "map": rate("map", maps, n),
            "report": rate(
                "report", lambda: make_report(tmp_path / "r.html", paths, model=model), n
            ),
            "report_maps": rate(
                "report_maps",
                lambda: make_report(tmp_path / "m.html", paths, model=model, maps=True),
                n,
            ),
        }
        csv_path = tmp_path / "scores.csv"
        lines = [f"/photos/img{i:05d}.jpg,{(i * 37) % 1000 / 10:.1f}," for i in range(10_000)]
        csv_path.write_text("path,score,error\n" + "\n".join(lines) + "\n")
        rates["report_from_csv_rows"] = rate(
            "report_from_csv_rows",
            lambda: make_report(tmp_path / "big.html", scores_csv=csv_path, link=True),
            10_000,
        )
        page_mb = (tmp_path / "r.html").stat().st_size / 1e6
        result = {
            "threads": THREADS,
            "model": model.metadata.get("name"),
            "engine": f"{type(model).__name__}, precision {getattr(model, 'precision', 'fp32')}",
            "images": args.images or "synthetic 768x512 JPEG",
            "n": n,
            "rates_images_per_s": rates,
            "cpu_ms_per_image": CPU_MS,
            "cpu_ms_first_image": components(model, paths[0]),
            "report_kb_per_image": round(page_mb * 1000 / n, 1),
        }
        if args.images:
            result["agreement"] = agreement(model, paths)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
