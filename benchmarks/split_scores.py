"""SROCC/PLCC of packaged or saved models on one split's test part, scored end to end through
the public API (decoding, input protocol and runtime as in ``rankiqa score``).

Used for the lockbox of docs/results.md §6: it checks that a model file scores the photos as
``rankiqa train-head`` predicted them from its feature cache.

    python benchmarks/split_scores.py --root ../shared/data/clive-dev/ChallengeDB_release \
        --split-file work/default-model/lockbox-splits.json --split-index 5 \
        --model work/default-model/lockbox/split5/model.safetensors --model fast [--ensemble]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy.stats import pearsonr, spearmanr

from rankiqa import load_model
from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.data.splits import load_splits


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
    def report(name: str, scores: np.ndarray) -> None:
        print(json.dumps({
            "model": name, "split": args.split_index, "lockbox": split.lockbox, "n": len(paths),
            "srocc": round(float(spearmanr(scores, y)[0]), 4),
            "plcc": round(float(pearsonr(scores, y)[0]), 4),
            "min": round(float(scores.min()), 2), "max": round(float(scores.max()), 2),
        }))

    every = []
    for name in args.model:
        every.append(np.array(load_model(name).score(paths)))
        report(name, every[-1])
    if args.ensemble:
        report("ensemble of " + " + ".join(args.model), np.mean(every, axis=0))


if __name__ == "__main__":
    main()
