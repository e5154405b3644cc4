"""Cache frozen EfficientNet-Lite0 activations for the default-model experiments.

For every image (decoded as ``rankiqa score`` decodes it, shorter side resized to ``--resize``)
the frozen part of the network (stem … block ``--split - 1``) runs once; we keep the pooled
mean/std of every frozen tap and the block output that the trainable part starts from
(float16), for the image and its horizontal mirror.

    python recipes/lite0/cache_features.py --set clive --root CLIVE --out cache/clive384.pt
    python recipes/lite0/cache_features.py --set ranked --root RANKED_DIR --out cache/x.pt
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.imageio import read_image
from rankiqa.inference.preprocess import resize_shorter, to_float_tensor
from rankiqa.models.efficientnet_lite import EfficientNetLite


def pooled(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(2)
    return torch.cat([flat.mean(2), flat.std(2)], 1)


def lite0(weights: str, taps: str = "stages") -> EfficientNetLite:
    net = EfficientNetLite(taps=taps)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc")})
    return net.eval().to(memory_format=torch.channels_last)


def items_clive(root: str):
    table = load_iqa_dataset("clive", root)
    for i, r in enumerate(table.records):
        yield {"id": str(Path(r.path).name), "path": r.path, "target": r.target, "index": i}


def items_ranked(root: str):
    with open(Path(root) / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            yield {**row, "id": row["path"], "path": Path(root) / row["path"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=["clive", "ranked"], required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--resize", type=int, default=384)
    ap.add_argument("--split", type=int, default=15, help="first trainable block")
    ap.add_argument("--weights", required=True, help="efficientnet-lite0 .pth (ImageNet)")
    ap.add_argument("--no-flip", action="store_true")
    ap.add_argument("--taps", choices=["stages", "blocks"], default="stages")
    args = ap.parse_args()
    torch.set_num_threads(int(__import__("os").environ.get("THREADS", "1")))
    net = lite0(args.weights, args.taps)
    items = list(items_clive(args.root) if args.set == "clive" else items_ranked(args.root))
    taps = [b for b in net.tap_blocks if b < args.split]
    stats, maps, meta = [], [], []
    t0 = time.time()
    with torch.inference_mode():
        for k, item in enumerate(items):
            img = to_float_tensor(read_image(item["path"], draft_size=args.resize))
            img = resize_shorter(img, args.resize).unsqueeze(0)
            views = [img] if args.no_flip else [img, img.flip(-1)]
            for flip, v in enumerate(views):
                x = net.stem(((v - 0.5) / 0.5).contiguous(memory_format=torch.channels_last))
                s = [pooled(x)] if net.tap_stem else []
                for b in range(args.split):
                    x = net._blocks[b](x)
                    if b in taps:
                        s.append(pooled(x))
                stats.append(torch.cat(s, 1)[0])
                maps.append(x[0].contiguous().half())
                meta.append({**{k2: str(v2) for k2, v2 in item.items()}, "flip": flip})
            if k % 50 == 0:
                print(f"{k}/{len(items)} {time.time() - t0:.0f}s", flush=True)
    torch.save({"stats": torch.stack(stats), "maps": maps, "meta": meta, "split": args.split,
                "resize": args.resize}, args.out)
    print(f"done {len(items)} images in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
