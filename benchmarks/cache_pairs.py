"""Pair accuracy per distortion type of a model file on ranked-set feature caches made with a
cut (``rankiqa features --cut K``): how well the trained top orders the ranked sequences it
trained on (a training-side diagnosis: which distortion the ranking term under-fits).

    python benchmarks/cache_pairs.py work/top/lockbox/split5/model.safetensors \\
        work/top/feat/cbsd68-exposure.safetensors work/top/feat/mcmaster-exposure.safetensors
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import torch

from rankiqa.inference.model.loading import load_model_file
from rankiqa.training.features import read_features
from rankiqa.training.head import pair_accuracy
from rankiqa.training.top import TopModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="model file (.safetensors) trained by train-head on a cut cache")
    ap.add_argument("caches", nargs="+", help="ranked-set caches with the same cut")
    args = ap.parse_args()
    model = load_model_file(args.model)
    result = {"model": args.model}
    for path in args.caches:
        cache = read_features(path)
        top = TopModel(model.net, cache.cut).eval()
        with torch.inference_mode():
            scores = torch.cat([top(cache.maps[k:k + 64], cache.stats[k:k + 64])
                                for k in range(0, len(cache.rows), 64)])
        by_type: dict[str, list[list[int]]] = defaultdict(list)
        for seq in cache.ranked_groups():
            by_type[cache.rows[seq[1]]["group"]].append(seq)
        result[path] = {t: round(pair_accuracy(scores, seqs), 4) for t, seqs in sorted(by_type.items())}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
