"""``rankiqa finetune``: RankIQA+FT, regression of a (ranking-pretrained) network on opinion scores."""

from __future__ import annotations

import argparse

from rankiqa.cli.argtypes import (
    add_deprecated_alias,
    add_device_option,
    add_resume_option,
    add_workers_option,
    decay_factor,
    fraction,
    fraction_or_zero,
    image_side,
    non_negative_float,
    non_negative_int,
    pooling,
    positive_float,
    positive_int,
    probability,
    resize_or_none,
    resume_flag,
)
from rankiqa.cli.datasets import add_dataset_options


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a network on an IQA dataset's opinion scores (RankIQA+FT)",
        description=(
            "Regress the dataset's scores rescaled to 0-100 (higher is better) with one branch of "
            "a ranking network (--init RUN/best.pt), an ImageNet backbone (--init imagenet) or "
            "random weights (--init scratch). Defaults follow the paper's fine-tuning solver: SGD "
            "with momentum 0.9, lr 1e-5 (TID2013; 1e-6 for LIVE) halved every 5000 iterations, "
            "batch 30, head lr x10, random crops of the backbone's input size. These tiny learning "
            "rates need tens of thousands of iterations; on a CPU use e.g. --optimizer adam --lr "
            "3e-5 --resize 320 --crop-size 224 (see docs/finetune-evaluate.md). best.pt is "
            "chosen on a validation part (the dataset's official one, else --val-fraction of "
            "the training part), never on the test part, which is scored once at the end "
            "(summary.json 'test'). Writes checkpoint.pt (latest, --resume), best.pt, "
            "metrics.csv, curves.png, run.json and summary.json to --out."
        ),
    )
    add_dataset_options(parser)
    parser.add_argument(
        "--init", required=True, help="imagenet, scratch, or a train-rank checkpoint (RUN/best.pt)"
    )
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder")
    model = parser.add_argument_group("model")
    model.add_argument(
        "--backbone", default="alexnet", help="backbone for imagenet/scratch (default alexnet)"
    )
    model.add_argument(
        "--head",
        default="paper",
        choices=["paper", "compact", "stats"],
        help="head for imagenet/scratch: paper (fc layers of the paper, default), compact or stats",
    )
    model.add_argument(
        "--backbone-weights",
        metavar="PATH",
        help="local ImageNet backbone weights for --init imagenet (else torchvision's, "
        "downloaded once into the torch cache; offline, pass the file)",
    )
    model.add_argument(
        "--head-init",
        choices=("calibrate", "keep", "reset"),
        default="calibrate",
        help="ranking init: calibrate the last layer onto 0-100 by least squares (default), keep, or reset it",
    )
    split = parser.add_argument_group("split")
    split.add_argument(
        "--split-file",
        help="JSON split file (rankiqa datasets --make-splits); default: a random 80/20 split saved to RUN_DIR/split.json",
    )
    split.add_argument(
        "--split-index",
        type=non_negative_int,
        default=0,
        help="which split of --split-file (default 0)",
    )
    split.add_argument(
        "--official-split",
        action="store_true",
        help="train on the official training part (KonIQ-10k)",
    )
    split.add_argument(
        "--all-images",
        action="store_true",
        help="train on every image, holding none out (for a final model; no validation, "
        "best.pt = the last step)",
    )
    split.add_argument(
        "--val-fraction",
        type=fraction_or_zero,
        default=0.2,
        help="share of the training part held out to choose best.pt when the split has no "
        "validation part of its own (default 0.2; by reference for synthetic datasets); "
        "0 = none: train on the whole training part, best.pt = the last step",
    )
    split.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.2,
        help="test share of the random split made without --split-file (default 0.2)",
    )
    opt = parser.add_argument_group("optimisation")
    opt.add_argument(
        "--loss",
        default="euclidean",
        help="regression loss: euclidean (default, ½·MSE, the paper's), mse, l1, smoothl1 "
        "(rankiqa.losses.REGRESSION_LOSSES)",
    )
    opt.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    opt.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="learning rate (default 1e-5; 1e-6 for live)",
    )
    opt.add_argument(
        "--lr-step",
        type=positive_int,
        default=5000,
        help="iterations between lr decays (default 5000)",
    )
    opt.add_argument(
        "--lr-gamma", type=decay_factor, default=0.5, help="lr decay factor (default 0.5)"
    )
    opt.add_argument("--momentum", type=probability, default=0.9, help="SGD momentum (default 0.9)")
    opt.add_argument("--weight-decay", type=non_negative_float, default=5e-4, help="default 5e-4")
    opt.add_argument(
        "--head-lr-mult", type=positive_float, default=10.0, help="head lr multiplier (default 10)"
    )
    opt.add_argument("--iters", type=positive_int, default=20000, help="iterations (default 20000)")
    opt.add_argument(
        "--batch-size", type=positive_int, default=30, help="images per batch (default 30)"
    )
    data = parser.add_argument_group("input")
    data.add_argument(
        "--resize",
        type=resize_or_none,
        default=None,
        metavar="N|none",
        help="shorter side before cropping, or none (default: none = native resolution)",
    )
    data.add_argument(
        "--crop-size",
        type=image_side,
        default=None,
        help="training crop (default: backbone input size, 227/224)",
    )
    data.add_argument(
        "--val-crops",
        type=pooling,
        default="center",
        metavar="POOLING",
        help="pooling while validating (default center)",
    )
    data.add_argument(
        "--crops",
        dest="test_crops",
        type=pooling,
        default="crops:30",
        metavar="POOLING",
        help="test-time pooling recorded for score/evaluate and used on the test part: crops:N "
        "(or N), grid, grid:K, center, full (default crops:30, the paper's)",
    )
    add_deprecated_alias(data, "--test-crops", "--crops", dest="test_crops", type=pooling)
    data.add_argument(
        "--no-cache",
        action="store_true",
        help="decode images per batch instead of keeping them in memory",
    )
    rank = parser.add_argument_group(
        "ranking kept during fine-tuning (multi-task, the TPAMI version of RankIQA)"
    )
    rank.add_argument(
        "--rank-data",
        metavar="RANKED_DIR",
        nargs="+",
        default=None,
        help="ranked sets made by `rankiqa distort` (one or more folders, same preset): every "
        "step also forwards a ranked batch and adds its all-pairs hinge loss (default: opinion "
        "scores only)",
    )
    rank.add_argument(
        "--rank-weight",
        type=positive_float,
        default=1.0,
        help="weight of the ranking loss against the regression loss (default 1)",
    )
    rank.add_argument(
        "--rank-layout",
        default="2x6x1",
        metavar="GxLxR",
        help="ranked batch per step: distortion groups x levels (pristine included) x "
        "references (default 2x6x1)",
    )
    rank.add_argument(
        "--rank-margin",
        type=positive_float,
        default=10.0,
        help="hinge margin in score units, scores being 0-100 (default 10)",
    )
    run_group = parser.add_argument_group("run")
    run_group.add_argument(
        "--val-every",
        type=positive_int,
        default=1000,
        help="validate + checkpoint every N iterations (default 1000)",
    )
    run_group.add_argument(
        "--log-every", type=positive_int, default=20, help="train-metrics period (default 20)"
    )
    add_workers_option(run_group, 2, "2")
    run_group.add_argument(
        "--seed", type=non_negative_int, default=0, help="random seed (default 0)"
    )
    add_resume_option(run_group)
    add_device_option(run_group)
    run_group.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress bar (it is only drawn when stderr is a terminal)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from rankiqa.cli.datasets import dataset_options
    from rankiqa.training.finetune import FinetuneConfig, finetune

    config = FinetuneConfig(
        dataset=args.dataset,
        root=args.root,
        init=args.init,
        out=args.out,
        backbone=args.backbone,
        head=args.head,
        backbone_weights=args.backbone_weights,
        head_init=args.head_init,
        split_file=args.split_file,
        split_index=args.split_index,
        official_split=args.official_split,
        all_images=args.all_images,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        loss=args.loss,
        optimizer=args.optimizer,
        lr=args.lr,
        lr_step=args.lr_step,
        lr_gamma=args.lr_gamma,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        head_lr_mult=args.head_lr_mult,
        iters=args.iters,
        batch_size=args.batch_size,
        resize=args.resize,
        crop_size=args.crop_size,
        val_every=args.val_every,
        val_crops=args.val_crops,
        test_crops=args.test_crops,
        log_every=args.log_every,
        workers=args.workers,
        cache=not args.no_cache,
        seed=args.seed,
        resume=resume_flag(args.resume),
        device=args.device,
        progress=not args.no_progress,  # a bar on a terminal, else a line every ~5%
        dataset_options=dataset_options(args),
        rank_data=args.rank_data,
        rank_weight=args.rank_weight,
        rank_layout=args.rank_layout,
        rank_margin=args.rank_margin,
    )
    summary = finetune(config)
    print(
        json.dumps(
            {k: summary[k] for k in ("steps", "seconds", "val", "best", "test", "run_dir")},
            indent=1,
        )
    )
    return 0
