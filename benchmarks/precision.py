"""`rankiqa score` end to end in fp32 and int8, in one run: images/s and one-image cold start.

Prints one JSON object. For each precision (``--precision fp32`` and ``int8``), measured
interleaved (fp32, int8, fp32, int8, ...) so that load from other processes hits both alike:

* ``images_per_s``: the ``rankiqa score FILES... -o scores.csv --precision P`` command run as a
  user runs it (a new process: start-up, model load, decoding workers, writing the csv),
  best and median of ``--repeats`` runs over the same ``--n`` photos;
* ``cold_start_s``: ``rankiqa score ONE.jpg --precision P`` (a new process, one photo), best
  and median of ``--cold`` runs;
* ``drift``: |int8 - fp32| over the photos (from the two csv files), and the ratio of rates.

The photos default to LIVE Challenge JPEGs (500×500, the size the issue's target names):

    python benchmarks/precision.py --images ../shared/data/clive-dev/ChallengeDB_release/Images
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PRECISIONS = ("fp32", "int8")


def rankiqa_command() -> list[str]:
    """The installed ``rankiqa`` script, else ``python -m rankiqa``."""
    script = shutil.which("rankiqa")
    return [script] if script else [sys.executable, "-m", "rankiqa"]


CPU: dict[str, list[float]] = {}

#: the commands' environment: Python may write bytecode, as after ``pip install``, which
#: compiles it; a ``PYTHONDONTWRITEBYTECODE`` set here (this development machine sets it) would
#: make every cold start compile rankiqa's modules from source (~40 ms CPU, measured)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str], key: str | None = None) -> float:
    """Wall seconds of one command; its CPU seconds (user + system, its worker processes
    included) go to ``CPU[key]``: steadier than wall time when other work shares the cores."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=CHILD_ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if key is not None:
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        CPU.setdefault(key, []).append(cpu)
    return wall


def read_scores(path: Path) -> dict[str, float]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["path"]: float(row["score"]) for row in csv.DictReader(handle)}


def summary(values: list[float]) -> dict[str, float]:
    return {"best": round(min(values), 3), "median": round(statistics.median(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images",
        default="../shared/data/clive-dev/ChallengeDB_release/Images",
        help="folder of JPEGs (default: the LIVE Challenge photos)",
    )
    parser.add_argument("--n", type=int, default=200, help="photos per run (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="end-to-end runs per precision")
    parser.add_argument("--cold", type=int, default=5, help="cold single-image runs per precision")
    parser.add_argument("--model", default="default")
    parser.add_argument("--workers", default=None, help="--workers for rankiqa score")
    args = parser.parse_args()

    photos = sorted(str(p) for p in Path(args.images).glob("*.[jJ][pP][gG]"))[: args.n]
    if not photos:
        sys.exit(f"no JPEGs in {args.images}")
    command = rankiqa_command()
    extra = ["--model", args.model] + (["--workers", args.workers] if args.workers else [])
    load_start = os.getloadavg()[0]
    out = Path(tempfile.mkdtemp(prefix="rankiqa-precision-"))
    rates: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    cold: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for precision in PRECISIONS:  # warm the page cache, the files' first decode, bytecode
        timed(
            [
                *command,
                "score",
                *photos[:8],
                "-o",
                str(out / "warm.csv"),
                "--precision",
                precision,
                *extra,
            ]
        )
    for _ in range(args.repeats):
        for precision in PRECISIONS:
            csv_path = out / f"{precision}.csv"
            seconds = timed(
                [*command, "score", *photos, "-o", str(csv_path), "--precision", precision, *extra],
                f"run {precision}",
            )
            rates[precision].append(len(photos) / seconds)
    for _ in range(args.cold):
        for precision in PRECISIONS:
            cold[precision].append(
                timed(
                    [*command, "score", photos[0], "--precision", precision, *extra],
                    f"cold {precision}",
                )
            )
    fp32, int8 = (read_scores(out / f"{p}.csv") for p in PRECISIONS)
    drift = np.abs(np.array([int8[k] - fp32[k] for k in fp32]))
    result = {
        "benchmark": "rankiqa score end to end (new process, decode, workers, csv), per precision",
        "command": " ".join(
            [
                Path(command[0]).name,
                *command[1:],
                "score",
                f"<{len(photos)} photos>",
                "-o",
                "X.csv",
                "--precision",
                "P",
                *extra,
            ]
        ),
        "photos": {"folder": args.images, "n": len(photos)},
        "cpu_count": os.cpu_count(),
        "images_per_s": {
            p: {"best": round(max(rates[p]), 1), "median": round(statistics.median(rates[p]), 1)}
            for p in PRECISIONS
        },
        "cold_start_s": {p: summary(cold[p]) for p in PRECISIONS},
        "cpu_ms_per_image": {
            p: round(1000 * min(CPU[f"run {p}"]) / len(photos), 1) for p in PRECISIONS
        },
        "idle_2_core_bound_images_per_s": {
            p: round(2 * len(photos) / min(CPU[f"run {p}"]), 1) for p in PRECISIONS
        },
        "cold_start_cpu_s": {p: round(min(CPU[f"cold {p}"]), 3) for p in PRECISIONS},
        "int8_over_fp32_rate": round(
            statistics.median(rates["int8"]) / statistics.median(rates["fp32"]), 2
        ),
        "drift": {
            "p99": round(float(np.quantile(drift, 0.99)), 3),
            "max": round(float(drift.max()), 3),
            "within_2_points": round(float(np.mean(drift <= 2.0)), 4),
        },
        "load_average_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }
    shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
