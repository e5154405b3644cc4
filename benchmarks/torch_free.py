"""Scoring without torch against the PyTorch + ONNX Runtime path, in one run (ratios).

Prints one JSON object: ``rankiqa --help`` start-up (against ``python -c pass``), the
wall time of ``rankiqa score ONE_IMAGE`` (start-up, loading, decoding, scoring) and
images/s through ``iter_scores`` for both engines, interleaved, best of ``--repeats``.
``--old-src`` adds the start-up of another checkout's CLI (e.g. main before the change).

    python benchmarks/torch_free.py --images ../shared/data/reference/kodak --n 24
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _wall(command: list[str], env: dict | None = None, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        best = min(best, time.perf_counter() - start)
    return best


def _model_file() -> Path:
    """The default model's weights without its graph beside them: the PyTorch path (with
    ONNX Runtime exported into the cache, as before scoring went torch-free)."""
    import shutil
    import tempfile

    from rankiqa.inference.model.paths import packaged_models_dir

    copy = Path(tempfile.mkdtemp()) / "default.safetensors"
    shutil.copy(packaged_models_dir() / "default.safetensors", copy)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, help="folder of images")
    parser.add_argument("--n", type=int, default=24, help="images for the throughput runs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--old-src", default=None, help="src/ of another checkout, for start-up")
    args = parser.parse_args()

    from rankiqa.core.imageio import find_images
    from rankiqa.inference.scoring.api import load_model
    from rankiqa.inference.scoring.batch import iter_scores
    from rankiqa.inference.scoring.onnx_model import load_onnx_model

    paths = [str(p) for p in find_images(args.images)][: args.n]
    cli = [sys.executable, "-m", "rankiqa"]
    result: dict = {"startup_s": {}, "one_image_s": {}, "images_per_s": {}}
    result["startup_s"]["python -c pass"] = _wall([sys.executable, "-c", "pass"])
    result["startup_s"]["rankiqa --help"] = _wall([*cli, "--help"])
    if args.old_src:
        env = {**os.environ, "PYTHONPATH": str(Path(args.old_src).resolve())}
        result["startup_s"]["rankiqa --help (old)"] = _wall([*cli, "--help"], env)
    one = paths[0]
    result["one_image_s"]["torch-free (onnx graph)"] = _wall([*cli, "score", one])
    result["one_image_s"]["torch (runtime auto, old path)"] = _wall(
        [*cli, "score", one, "--device", "cpu", "-m", str(_model_file())]
    )
    engines = {"torch-free (onnx graph)": load_onnx_model(), "torch (runtime auto, old path)": load_model()}
    for _ in range(args.repeats):
        for name, model in engines.items():
            start = time.perf_counter()
            rows = list(iter_scores(model, paths, workers=args.workers))
            rate = len(rows) / (time.perf_counter() - start)
            best = result["images_per_s"].get(name, 0.0)
            result["images_per_s"][name] = round(max(best, rate), 2)
    scores = {n: [r.score for r in iter_scores(m, paths[:4], workers=0)] for n, m in engines.items()}
    a, b = scores.values()
    result["max_score_difference"] = max(abs(x - y) for x, y in zip(a, b, strict=True))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
