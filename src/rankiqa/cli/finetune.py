"""``rankiqa finetune``: RankIQA+FT, regression of a (ranking-pretrained) network on opinion scores."""

from __future__ import annotations

import argparse

from rankiqa.cli.argtypes import (
    add_deprecated_alias,
    config_from,
    defaults_from,
    fraction,
    fraction_or_zero,
    non_negative_int,
    pooling,
    positive_float,
    positive_int,
    resize_or_none,
    resume_flag,
)
from rankiqa.cli.datasets import add_dataset_options
from rankiqa.cli.training_options import (
    add_crop_size_option,
    add_network_options,
    add_optimiser_options,
    add_run_options,
)
from rankiqa.training.options import (
    FINETUNE_LR,
    FINETUNE_LR_DEFAULT,
    HEAD_INITS,
    FinetuneConfig,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a network on an IQA dataset's opinion scores (RankIQA+FT)",
        description=(
            "Regress the dataset's scores rescaled to 0-100 (higher is better) with one branch of "
            "a ranking network (--init RUN/best.pt), an ImageNet backbone (--init imagenet) or "
            "random weights (--init scratch). Defaults follow the paper's fine-tuning solver (SGD "
            "with momentum, step decay, a 10x head learning rate, random crops of the "
            "backbone's input size; see each option). These tiny learning "
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
    add_network_options(
        model,
        "for imagenet/scratch",
        "local ImageNet backbone weights for --init imagenet (else torchvision's, downloaded "
        "once into the torch cache; offline, pass the file)",
    )
    model.add_argument(
        "--head-init",
        choices=HEAD_INITS,
        help="ranking init: calibrate the last layer onto 0-100 by least squares, keep, or "
        "reset it (default %(default)s)",
    )
    split = parser.add_argument_group("split")
    split.add_argument(
        "--split-file",
        help="JSON split file (rankiqa datasets --make-splits); default: a random 80/20 split saved to RUN_DIR/split.json",
    )
    split.add_argument(
        "--split-index",
        type=non_negative_int,
        help="which split of --split-file (default %(default)s)",
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
        help="share of the training part held out to choose best.pt when the split has no "
        "validation part of its own (default %(default)s; by reference for synthetic datasets); "
        "0 = none: train on the whole training part, best.pt = the last step",
    )
    split.add_argument(
        "--test-fraction",
        type=fraction,
        help="test share of the random split made without --split-file (default %(default)s)",
    )
    opt = parser.add_argument_group("optimisation")
    opt.add_argument(
        "--loss",
        help="regression loss (default %(default)s = ½·MSE, the paper's): a name of "
        "rankiqa.losses.REGRESSION_LOSSES (euclidean, mse, l1, smoothl1)",
    )
    opt.add_argument(
        "--lr",
        type=positive_float,
        help="learning rate (default: "
        + "".join(f"{lr:g} for {name}, " for name, lr in FINETUNE_LR.items())
        + f"else {FINETUNE_LR_DEFAULT:g})",
    )
    add_optimiser_options(opt)
    opt.add_argument("--batch-size", type=positive_int, help="images per batch (default %(default)s)")
    data = parser.add_argument_group("input")
    data.add_argument(
        "--resize",
        type=resize_or_none,
        metavar="N|none",
        help="shorter side before cropping, or none (default: none = native resolution)",
    )
    add_crop_size_option(data)
    data.add_argument(
        "--val-crops",
        type=pooling,
        metavar="POOLING",
        help="pooling while validating (default %(default)s)",
    )
    data.add_argument(
        "--crops",
        dest="test_crops",
        type=pooling,
        metavar="POOLING",
        help="test-time pooling recorded for score/evaluate and used on the test part: crops:N "
        "(or N), grid, grid:K, center, full (default %(default)s, the paper's)",
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
        help="ranked sets made by `rankiqa distort` (one or more folders, same preset): every "
        "step also forwards a ranked batch and adds its all-pairs hinge loss (default: opinion "
        "scores only)",
    )
    rank.add_argument(
        "--rank-weight",
        type=positive_float,
        help="weight of the ranking loss against the regression loss (default %(default)s)",
    )
    rank.add_argument(
        "--rank-layout",
        metavar="GxLxR",
        help="ranked batch per step: distortion groups x levels (pristine included) x "
        "references (default %(default)s)",
    )
    rank.add_argument(
        "--rank-margin",
        type=positive_float,
        help="hinge margin in score units, scores being 0-100 (default %(default)s)",
    )
    run_group = parser.add_argument_group("run")
    add_run_options(run_group)
    defaults_from(parser, FinetuneConfig, skip=("resume",))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from rankiqa.cli.datasets import dataset_options
    from rankiqa.training.finetune import finetune

    config = config_from(
        FinetuneConfig,
        args,
        cache=not args.no_cache,
        resume=resume_flag(args.resume),
        progress=False if args.no_progress else None,
        dataset_options=dataset_options(args),
    )
    summary = finetune(config)
    print(
        json.dumps(
            {k: summary[k] for k in ("steps", "seconds", "val", "best", "test", "run_dir")},
            indent=1,
        )
    )
    return 0
