"""``rankiqa train-rank``: train a ranking network on a ranked set (RankIQA stage 1)."""

from __future__ import annotations

import argparse
import json

from rankiqa.cli.argtypes import (
    add_device_option,
    add_resume_option,
    add_workers_option,
    decay_factor,
    fraction,
    image_side,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    resume_flag,
)

DESCRIPTION = """\
Train a quality network to rank synthetically distorted images (RankIQA stage 1) with the
efficient all-pairs batch hinge loss. DATA is the output folder of `rankiqa distort`.
References are split into train/validation; validation reports pairwise ranking accuracy and
the mean Spearman correlation between score and distortion level. Writes RUN_DIR/metrics.csv,
curves.png, checkpoint.pt (latest, for --resume), best.pt and summary.json.
Defaults follow the authors' solvers (SGD, momentum 0.9, lr 1e-5 for the live layout and 1e-4
otherwise, x0.1 every 10k iterations, 50k iterations, weight decay 5e-4, head lr x10).
Runs under `torchrun --nproc_per_node N` with DistributedDataParallel."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train-rank",
        help="train a ranking network on a ranked set (RankIQA stage 1)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, metavar="DIR", help="output folder of rankiqa distort")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to write")
    p.add_argument(
        "--backbone",
        default="alexnet",
        help="shallow, alexnet, vgg16, resnet18, mobilenet_v3_small (default: alexnet)",
    )
    p.add_argument(
        "--head",
        default="paper",
        choices=["paper", "compact", "stats"],
        help="head: paper (fc layers of the paper, default), compact or stats",
    )
    p.add_argument(
        "--backbone-weights",
        metavar="PATH|imagenet",
        help="initial backbone weights: a local state-dict file, or 'imagenet' (torchvision's, "
        "downloaded once into the torch cache; offline, pass the file instead)",
    )
    p.add_argument(
        "--layout",
        default="auto",
        help="batch layout: live (4 groups x 6 levels x 2 refs = 48), tid (9x5x1 = 45), GxLxR, "
        "or auto (from the ranked set; default)",
    )
    p.add_argument("--iters", type=positive_int, default=50_000, help="iterations (default: 50000)")
    p.add_argument(
        "--lr", type=positive_float, help="learning rate (default: 1e-5 live layout, else 1e-4)"
    )
    p.add_argument(
        "--lr-step", type=positive_int, default=10_000, help="lr decay period (default: 10000)"
    )
    p.add_argument(
        "--lr-gamma", type=decay_factor, default=0.1, help="lr decay factor (default: 0.1)"
    )
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"], help="default: sgd")
    p.add_argument("--momentum", type=probability, default=0.9, help="SGD momentum (default: 0.9)")
    p.add_argument("--weight-decay", type=non_negative_float, default=5e-4, help="default: 5e-4")
    p.add_argument(
        "--head-lr-mult", type=positive_float, default=10.0, help="head lr factor (default: 10)"
    )
    p.add_argument("--margin", type=positive_float, default=10.0, help="hinge margin (default: 10)")
    p.add_argument(
        "--pairs",
        default="reference",
        choices=["reference", "group"],
        help="rank pairs of the same reference only (paper, default) or across the references "
        "of a group (released LIVE code)",
    )
    p.add_argument(
        "--loss-norm",
        default="batch",
        choices=["batch", "pairs", "sum"],
        help="divide the summed hinge loss by the batch size (default), the pair count, or not",
    )
    p.add_argument(
        "--crop-size", type=image_side, help="training crop (default: backbone input, 227 or 224)"
    )
    p.add_argument("--dropout", type=probability, help="override the head's dropout probability")
    p.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.2,
        help="fraction of references held out (default: 0.2)",
    )
    p.add_argument(
        "--val-every",
        type=positive_int,
        default=1000,
        help="validate + checkpoint period (default: 1000)",
    )
    p.add_argument(
        "--log-every", type=positive_int, default=20, help="train-metrics period (default: 20)"
    )
    add_workers_option(p, 2, "2")
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: 0)")
    add_resume_option(p, "the run in RUN_DIR")
    add_device_option(p)
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress bar (it is only drawn when stderr is a terminal)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:

    from rankiqa.training.rank import RankTrainConfig, train_rank

    config = RankTrainConfig(
        data=args.data,
        out=args.out,
        backbone=args.backbone,
        head=args.head,
        backbone_weights=args.backbone_weights,
        layout=args.layout,
        iters=args.iters,
        lr=args.lr,
        lr_step=args.lr_step,
        lr_gamma=args.lr_gamma,
        optimizer=args.optimizer,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        head_lr_mult=args.head_lr_mult,
        margin=args.margin,
        pairs=args.pairs,
        reduction=args.loss_norm,
        crop_size=args.crop_size,
        dropout=args.dropout,
        val_fraction=args.val_fraction,
        val_every=args.val_every,
        log_every=args.log_every,
        workers=args.workers,
        seed=args.seed,
        resume=resume_flag(args.resume),
        device=args.device,
        progress=not args.no_progress,  # a bar on a terminal, else a line every ~5%
    )
    summary = train_rank(config)
    if summary["rank"] == 0:
        print(json.dumps({k: summary[k] for k in ("steps", "seconds", "val", "best")}, indent=2))
    return 0
