"""Frozen-feature probes (ridge, leave-one-out alpha) on clive-dev's 10 splits: which taps and
which input sizes of ImageNet EfficientNet-Lite0 carry quality.

    python recipes/lite0/probe.py --root CLIVE --splits clive-splits.json --taps blocks \
        --sizes 384 224 --out probe.json
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.data.splits import load_splits
from rankiqa.imageio import read_image
from rankiqa.inference.preprocess import resize_shorter, to_float_tensor
from rankiqa.models import build_model


def stats(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(2)
    return torch.cat([flat.mean(2), flat.std(2)], 1)[0]


def features(net, x: torch.Tensor, taps: str) -> torch.Tensor:
    bb = net.backbone
    x = bb.stem((x - 0.5) / 0.5)
    out = [stats(x)] if taps == "blocks" else []
    for index, block in enumerate(bb._blocks):
        x = block(x)
        if taps == "blocks" or index in bb.tap_blocks:
            out.append(stats(x))
    out.append(stats(F.relu6(bb._bn1(bb._conv_head(x)))))
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--splits", required=True)
    ap.add_argument("--taps", choices=["stages", "blocks"], default="stages")
    ap.add_argument("--sizes", type=int, nargs="+", default=[384])
    ap.add_argument("--cache", default=None, help="npy file of the features (reused)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    table = load_iqa_dataset("clive", args.root)
    y = np.array([r.target for r in table.records])
    if args.cache and os.path.exists(args.cache):
        x = np.load(args.cache)
    else:
        net = build_model("efficientnet_lite0", "stats", "imagenet").eval()
        net = net.to(memory_format=torch.channels_last)
        rows = []
        with torch.inference_mode():
            for r in table.records:
                img = to_float_tensor(read_image(r.path, draft_size=min(args.sizes)))
                feats = []
                for size in args.sizes:
                    v = resize_shorter(img, size).unsqueeze(0)
                    feats.append(features(net, v.contiguous(memory_format=torch.channels_last),
                                          args.taps))
                rows.append(torch.cat(feats).numpy())
        x = np.stack(rows)
        if args.cache:
            np.save(args.cache, x)
    results = []
    for sp in load_splits(args.splits, table):
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 25)))
        model.fit(x[list(sp.train)], y[list(sp.train)])
        p = model.predict(x[list(sp.test)])
        results.append((spearmanr(p, y[list(sp.test)])[0], pearsonr(p, y[list(sp.test)])[0]))
    res = {"taps": args.taps, "sizes": args.sizes, "dims": x.shape[1],
           "median_test_srocc": float(np.median([r[0] for r in results])),
           "median_test_plcc": float(np.median([r[1] for r in results])),
           "srocc": [round(float(r[0]), 4) for r in results]}
    print(json.dumps(res))
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
