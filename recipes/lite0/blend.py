"""Blend two experiment runs (``experiment.py --save-predictions``) split by split.

On every split the weight ``w`` of ``(1 - w) * A + w * B`` (w = 0, 0.1, ..., 1) is chosen on
the validation part; the test part is scored once with it. Both runs must share the split file
and the validation fraction, so that their validation and test parts are the same photos.

    python recipes/lite0/blend.py heads.json svr.json --clive-root $CLIVE
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from rankiqa.data.iqa import load_iqa_dataset


def blend(a: dict, b: dict, targets: np.ndarray) -> dict:
    """Choose the weight on the validation part of one split; score the test part."""
    if a["val_index"] != b["val_index"] or a["test_index"] != b["test_index"]:
        raise SystemExit("the two runs have different validation or test parts")
    val, test = np.array(a["val_index"]), np.array(a["test_index"])

    def mix(w: float, part: str) -> np.ndarray:
        return (1 - w) * np.array(a[part]) + w * np.array(b[part])

    weights = np.round(np.linspace(0, 1, 11), 1)
    val_srocc = [spearmanr(mix(w, "val"), targets[val])[0] for w in weights]
    best = int(np.nanargmax(val_srocc))  # a constant blend has no correlation (NaN)
    w = float(weights[best])
    return {"weight": w, "val_srocc": float(val_srocc[best]),
            "test_srocc": float(spearmanr(mix(w, "test"), targets[test])[0]),
            "test_plcc": float(pearsonr(mix(w, "test"), targets[test])[0])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="results JSON of run A (with predictions)")
    ap.add_argument("b", help="results JSON of run B (with predictions)")
    ap.add_argument("--clive-root", required=True)
    args = ap.parse_args()
    targets = np.array([r.target for r in load_iqa_dataset("clive", args.clive_root).records])
    runs = [json.loads(Path(path).read_text())["splits"] for path in (args.a, args.b)]
    if any("predictions" not in s for run in runs for s in run):
        raise SystemExit("both runs need experiment.py --save-predictions")
    rows = [blend(sa["predictions"], sb["predictions"], targets) | {"split": sa["split"]}
            for sa, sb in zip(*runs, strict=True)]
    for row in rows:
        print(json.dumps(row))
    test = [r["test_srocc"] for r in rows]
    print(json.dumps({"median_test_srocc": float(np.median(test)), "mean_test_srocc": float(np.mean(test)),
                      "median_test_plcc": float(np.median([r["test_plcc"] for r in rows])),
                      "median_val_srocc": float(np.median([r["val_srocc"] for r in rows]))}))


if __name__ == "__main__":
    main()
