"""Pair accuracy of models on a ranked set (``rankiqa distort`` output): the fraction of
(better, worse) pairs within each (reference, distortion) that a model orders correctly
(pristine = level 0 is better than every level; ties count as errors), and per distortion and
level the median points a degraded copy loses against its pristine image (``drops``: how far a
distortion moves the score, e.g. two stops of exposure in the ``exposure`` preset).

    rankiqa distort ../shared/data/reference/kodak kodak-live --preset live --max-side 512
    python benchmarks/synthetic_pairs.py kodak-live --model default --model old.safetensors

``--levels 2,4,5`` keeps the pristine image and those levels only (on the ``exposure`` preset:
1, 2 and 3 stops, the ladder of a ±1/±2/±3 EV test set).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from rankiqa.inference import load_model
from rankiqa.inference.scoring.batch import iter_scores


def pair_accuracy(rows: list[dict], scores: dict[str, float]) -> dict[str, float]:
    groups: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
    pristine: dict[str, str] = {}
    for row in rows:
        if int(row["level"]) == 0:
            pristine[row["reference"]] = row["path"]
        else:
            groups[(row["reference"], row["distortion"])][int(row["level"])] = row["path"]
    per_type: dict[str, list[float]] = defaultdict(list)
    for (ref, dist), levels in groups.items():
        order = [pristine[ref]] + [levels[k] for k in sorted(levels)]
        s = [scores[p] for p in order]
        for a in range(len(s)):
            for b in range(a + 1, len(s)):
                per_type[dist].append(float(s[a] > s[b]))
    out = {k: round(float(np.mean(v)), 4) for k, v in sorted(per_type.items())}
    out["all"] = round(float(np.mean([x for v in per_type.values() for x in v])), 4)
    return out


def median_drops(rows: list[dict], scores: dict[str, float]) -> dict[str, list[float]]:
    """Per distortion, the median over references of score(pristine) - score(level k), k = 1.."""
    pristine = {r["reference"]: scores[r["path"]] for r in rows if int(r["level"]) == 0}
    drops: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if int(r["level"]) > 0 and r["reference"] in pristine:
            drops[r["distortion"]][int(r["level"])].append(pristine[r["reference"]] - scores[r["path"]])
    return {d: [round(float(np.median(v[k])), 2) for k in sorted(v)] for d, v in sorted(drops.items())}


def level_list(text: str) -> list[int]:
    """``--levels 2,4,5`` as [2, 4, 5] (levels >= 1); anything else is a usage error."""
    try:
        levels = [int(k) for k in text.split(",")]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"expected levels >= 1 like 2,4,5, got {text!r}")
    return levels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ranked", help="folder with manifest.csv")
    ap.add_argument("--model", action="append", default=None, help="model (repeatable)")
    ap.add_argument("--levels", default=None, type=level_list,
                    help="comma-separated levels to keep besides the pristine one (default: all)")
    args = ap.parse_args()
    root = Path(args.ranked)
    with open(root / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if args.levels:
        keep = {0, *args.levels}
        rows = [r for r in rows if int(r["level"]) in keep]
    paths = [str(root / r["path"]) for r in rows]
    result = {"ranked_set": str(root), "images": len(rows), "levels": ",".join(map(str, args.levels or [])) or "all"}
    for name in args.model or ["default"]:
        model = load_model(name)
        scored = {Path(r.path).relative_to(root).as_posix(): r.score
                  for r in iter_scores(model, paths, 16, 2)}
        result[name] = {"pairs": pair_accuracy(rows, scored), "drops": median_drops(rows, scored)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
