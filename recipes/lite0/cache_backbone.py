"""Cache frozen multi-level statistics of any rankiqa backbone (the backbone comparison).

The same images and decoding as cache_features.py, but for any backbone of
``rankiqa.models.BACKBONES`` with the stats head's taps: per-channel mean and standard
deviation of every tap, for the image (and its mirror for clive-dev). No trainable tail: the
cache is "complete" and experiment.py trains the stats head on it directly.

    python recipes/lite0/cache_backbone.py --backbone alexnet \\
        --weights ../shared/weights/alexnet-imagenet-features.pth --set clive --root CLIVE \\
        --resize 336 --out cache-alexnet/clive.pt
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cache_features import items_clive, items_ranked, pooled  # noqa: E402

from rankiqa.imageio import read_image  # noqa: E402
from rankiqa.inference.preprocess import resize_shorter, to_float_tensor  # noqa: E402
from rankiqa.models import BACKBONES, build_model  # noqa: E402
from rankiqa.models.backbones import feature_taps  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", required=True, choices=sorted(BACKBONES))
    ap.add_argument("--weights", required=True, help="backbone weights file, or 'imagenet'")
    ap.add_argument("--set", choices=["clive", "ranked"], required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--resize", type=int, default=336)
    ap.add_argument("--no-flip", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    net = build_model(args.backbone, "stats", args.weights).eval()
    spec = BACKBONES[args.backbone]
    items = list(items_clive(args.root) if args.set == "clive" else items_ranked(args.root))
    stats, meta = [], []
    t0 = time.time()
    with torch.inference_mode():
        for k, item in enumerate(items):
            img = to_float_tensor(read_image(item["path"], draft_size=args.resize))
            img = resize_shorter(img, args.resize).unsqueeze(0)
            for flip, v in enumerate([img] if args.no_flip else [img, img.flip(-1)]):
                taps = feature_taps(net.backbone, (v - net.mean) / net.std, tuple(spec.taps))
                stats.append(torch.cat([pooled(t) for t in taps], 1)[0])
                meta.append({**{k2: str(v2) for k2, v2 in item.items()}, "flip": flip})
            if k % 100 == 0:
                print(f"{k}/{len(items)} {time.time() - t0:.0f}s", flush=True)
    torch.save({"stats": torch.stack(stats), "meta": meta, "complete": True,
                "tap_channels": list(spec.tap_channels), "backbone": args.backbone,
                "resize": args.resize}, args.out)
    print(f"done {len(items)} images in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
