"""The paper's ablation on LIVE In the Wild (CLIVE): does ranking pre-training help? Prints JSON.

    python benchmarks/finetune_clive.py \
        --root ../shared/data/clive-dev/ChallengeDB_release \
        --backbone-weights ../shared/weights/alexnet-imagenet-features.pth \
        [--rank-checkpoint RUN/best.pt] [--splits 10] [--iters 150] [--variants a,b,c]

On each of ``--splits`` random 80/20 splits (by image; split k drawn from seed (seed, k)):

(a) ``imagenet``: ImageNet-initialised alexnet (+ compact head) fine-tuned on the training part;
(b) ``rank+ft``: the ranking network of ``--rank-checkpoint`` (head calibrated onto 0-100 by
    least squares, then fine-tuned) — RankIQA+FT;
(c) ``rank``: the ranking network alone, no fine-tuning (SROCC of its raw scores; PLCC after
    the logistic fit, since its scale is arbitrary).

Each variant is evaluated on the split's test part with ``--test-crops`` pooling; per split and
median/mean±std over splits of SROCC, PLCC (raw) and PLCC after the 5-parameter logistic.

CPU budget: images are decoded and resized once (``--resize``, shorter side) and kept in memory
(~200 kB each at 256 px); each split then costs ``--iters`` optimizer steps of ``--batch-size``
crops per fine-tuned variant plus one pass over the ~140 test images. With alexnet, batch 16 of
224-px crops, one step takes ~0.5-1.4 s on 2 CPU cores, so the default 150 steps (about 4
epochs of the ~560 training images) cost ~1.5-3.5 min per split and variant.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import numpy as np
import torch

from rankiqa.core.devices import resolve_device
from rankiqa.core.preprocess import parse_pooling
from rankiqa.core.seeding import derive_seed, seed_step
from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.data.iqa.dataset import IQAImages, TrainBatches, subset_images
from rankiqa.data.splits import random_splits
from rankiqa.evaluation.metrics import iqa_metrics
from rankiqa.evaluation.protocol import json_safe, predict
from rankiqa.training.finetune import (
    build_initial_model,
    init_head,
    loss_fn,
    step_loss,
)
from rankiqa.training.optim import build_optimizer, build_scheduler
from rankiqa.training.options import FinetuneConfig

VARIANTS = {"a": "imagenet", "b": "rank+ft", "c": "rank"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--root", required=True, help="ChallengeDB_release folder")
    p.add_argument("--backbone-weights", required=True, help="ImageNet alexnet features state dict")
    p.add_argument("--rank-checkpoint", help="train-rank checkpoint (needed for variants b and c)")
    p.add_argument(
        "--variants",
        default=None,
        help="comma list of a,b,c (default: a, plus b,c with --rank-checkpoint)",
    )
    p.add_argument("--splits", type=int, default=10)
    p.add_argument(
        "--first-split", type=int, default=0, help="start at this split index (to run in pieces)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iters", type=int, default=150, help="optimizer steps per split and variant")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--optimizer", default="adam", choices=("sgd", "adam"))
    p.add_argument("--lr", type=float, default=3e-5, help="backbone lr (head: x --head-lr-mult)")
    p.add_argument("--head-lr-mult", type=float, default=10.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--lr-step", type=int, default=100000)
    p.add_argument("--lr-gamma", type=float, default=0.5)
    p.add_argument("--loss", default="mse", choices=("euclidean", "mse", "l1", "smoothl1"))
    p.add_argument("--head", default="compact", help="head for variant a (default compact)")
    p.add_argument("--resize", type=int, default=256)
    p.add_argument("--crop-size", type=int, default=224)
    p.add_argument(
        "--test-crops", default="center", help="center, grid, crops:N (the paper: crops:30)"
    )
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--workers", type=int, default=2, help="decoding threads")
    return p.parse_args()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fine_tune(model, mode, train_images, args, seed) -> tuple[dict, float]:
    start = time.perf_counter()
    head = init_head(model, "calibrate", mode, train_images, args.crop_size)
    model.train()
    optimizer = build_optimizer(
        model, args.optimizer, args.lr, 0.9, args.weight_decay, args.head_lr_mult
    )
    scheduler = build_scheduler(optimizer, args.lr_step, args.lr_gamma)
    criterion = loss_fn(args.loss)
    batches = TrainBatches(train_images, args.batch_size, args.crop_size, seed)
    losses = []
    for step in range(args.iters):
        x, y = batches[step]
        seed_step(seed, step + 1)
        loss = step_loss(model, x, y, criterion)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(float(loss))
    model.eval()
    k = max(1, len(losses) // 10)
    head["loss_first"] = float(np.mean(losses[:k])) if losses else None
    head["loss_last"] = float(np.mean(losses[-k:])) if losses else None
    return head, time.perf_counter() - start


def evaluate(model, images, args) -> dict:
    start = time.perf_counter()
    with torch.no_grad():
        pred = predict(model.eval(), images, args.test_crops, args.crop_size, batch_size=16)
    m = iqa_metrics(pred, images.table.targets)
    return {
        "srocc": m["srocc"],
        "krocc": m["krocc"],
        "plcc_raw": m["plcc_raw"],
        "plcc_logistic5": m["plcc_logistic5"],
        "rmse_raw": m["rmse_raw"],
        "eval_seconds": time.perf_counter() - start,
    }


def main() -> None:
    args = parse_args()
    args.test_crops = parse_pooling(args.test_crops, "--test-crops")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.device = resolve_device(args.device)
    variants = (
        args.variants.split(",")
        if args.variants
        else (["a", "b", "c"] if args.rank_checkpoint else ["a"])
    )
    if any(v in ("b", "c") for v in variants) and not args.rank_checkpoint:
        sys.exit("variants b and c need --rank-checkpoint")
    table = load_iqa_dataset("clive", args.root)
    t0 = time.perf_counter()
    images = IQAImages(table, resize=args.resize, crop_size=args.crop_size, cache=True)
    images.preload(workers=args.workers)
    load_seconds = time.perf_counter() - t0
    log(f"loaded {len(table)} images in {load_seconds:.1f}s")
    splits = random_splits(
        table, args.first_split + args.splits, seed=args.seed, by_reference=False
    )
    splits = splits[args.first_split :]

    def build(init: str, head: str):
        config = FinetuneConfig(
            dataset="clive",
            root=args.root,
            init=init,
            out="",
            backbone="alexnet",
            head=head,
            backbone_weights=args.backbone_weights if init == "imagenet" else None,
            crop_size=args.crop_size,
        )
        torch.manual_seed(args.seed)
        return build_initial_model(config, None)

    results = []
    for split in splits:
        train_images = subset_images(images, split.train)
        test_images = subset_images(images, split.test)
        row = {"split": split.index, "train": len(split.train), "test": len(split.test)}
        seed = derive_seed(args.seed, split.index)
        for v in variants:
            if v == "a":
                model, mode = build("imagenet", args.head)
            else:
                model, mode = build(args.rank_checkpoint, args.head)
            model.to(args.device)
            if v == "c":
                entry = evaluate(model, test_images, args)
            else:
                head, seconds = fine_tune(model, mode, train_images, args, seed)
                entry = evaluate(model, test_images, args)
                entry.update(
                    train_seconds=seconds, **{k: v for k, v in head.items() if k != "head"}
                )
            row[VARIANTS[v]] = entry
            log(
                f"split {split.index} {VARIANTS[v]}: SROCC {entry['srocc']:.4f} PLCC {entry['plcc_raw']:.4f} "
                f"({entry.get('train_seconds', 0):.0f}s train)"
            )
        results.append(row)

    summary = {}
    for v in variants:
        name = VARIANTS[v]
        summary[name] = {}
        for key in ("srocc", "plcc_raw", "plcc_logistic5"):
            vals = [r[name][key] for r in results if np.isfinite(r[name][key])]
            summary[name][key] = {
                "median": statistics.median(vals) if vals else None,
                "mean": float(np.mean(vals)) if vals else None,
                "std": float(np.std(vals)) if vals else None,
            }
        secs = [r[name].get("train_seconds", 0.0) for r in results]
        summary[name]["train_seconds_per_split"] = float(np.mean(secs))
    out = {
        "benchmark": "finetune_clive",
        "config": {k: str(v) if k == "device" else v for k, v in vars(args).items()},
        "variants": {VARIANTS[v]: v for v in variants},
        "images": len(table),
        "load_seconds": load_seconds,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "splits": results,
        "summary": summary,
    }
    print(json.dumps(json_safe(out), indent=1))


if __name__ == "__main__":
    main()
