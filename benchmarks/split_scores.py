"""SROCC/PLCC of packaged or saved models on one split's test part, scored end to end through
the public API (decoding, input protocol and runtime as in ``rankiqa score``).

Used for the lockbox of docs/results.md §6: it checks that a model file scores the photos as
``rankiqa train-head`` predicted them from its feature cache. Each line also gives the 95 %
percentile-bootstrap interval of SROCC and PLCC over the test photos (2,000 resamples,
:func:`rankiqa.evaluation.metrics.bootstrap_interval`) and, from the second model on, the
interval of its paired difference from the first model (``*_minus_first_ci95``).

    python benchmarks/split_scores.py --root ../shared/data/clive-dev/ChallengeDB_release \
        --split-file work/default-model/lockbox-splits.json --split-index 5 \
        --model work/default-model/lockbox/split5/model.safetensors --model fast [--ensemble]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from rankiqa import load_model
from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.data.splits import load_splits
from rankiqa.evaluation.metrics import bootstrap_interval, plcc, srocc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="clive")
    ap.add_argument("--root", required=True)
    ap.add_argument("--split-file", required=True)
    ap.add_argument("--split-index", type=int, required=True)
    ap.add_argument("--model", action="append", required=True, help="name or file (repeatable)")
    ap.add_argument("--ensemble", action="store_true",
                    help="also the mean of the models' scores (a prediction ensemble)")
    args = ap.parse_args()
    table = load_iqa_dataset(args.dataset, args.root)
    split = load_splits(args.split_file, table)[args.split_index]
    paths = [str(table.records[i].path) for i in split.test]
    y = np.array([table.records[i].target for i in split.test])

    def interval(scores: np.ndarray, metric, baseline=None) -> list[float]:
        return [round(v, 4) for v in bootstrap_interval(scores, y, baseline, metric)]

    def report(name: str, scores: np.ndarray) -> None:
        line = {
            "model": name, "split": args.split_index, "lockbox": split.lockbox, "n": len(paths),
            "srocc": round(srocc(scores, y), 4), "plcc": round(plcc(scores, y), 4),
            "srocc_ci95": interval(scores, srocc), "plcc_ci95": interval(scores, plcc),
            "min": round(float(scores.min()), 2), "max": round(float(scores.max()), 2),
        }
        if every and scores is not every[0]:
            line["srocc_minus_first_ci95"] = interval(scores, srocc, every[0])
            line["plcc_minus_first_ci95"] = interval(scores, plcc, every[0])
        print(json.dumps(line))

    every: list[np.ndarray] = []
    for name in args.model:
        every.append(np.array(load_model(name).score(paths)))
        report(name, every[-1])
    if args.ensemble:
        report("ensemble of " + " + ".join(args.model), np.mean(every, axis=0))


if __name__ == "__main__":
    main()
