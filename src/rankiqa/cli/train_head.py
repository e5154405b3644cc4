"""``rankiqa train-head``: a stats head on frozen features (how the default model is made)."""

from __future__ import annotations

import argparse

from rankiqa.cli.argtypes import (
    add_resume_option,
    config_from,
    defaults_from,
    fraction_or_one,
    fraction_or_zero,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    resume_flag,
)
from rankiqa.training.options import HeadConfig


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-head",
        help="train a stats head on cached frozen features (MOS + ranking); writes a model file",
        description=(
            "Train MEMBERS stats heads on a feature cache of opinion-scored images (MSE on the "
            "bounded 0-100 output) plus RankIQA's all-pairs hinge on ranked-set caches, choose "
            "each head's epoch on a validation part, merge them into one and write "
            "OUT/PART/model.safetensors and OUT/results.json (test SROCC/PLCC per split, "
            "pooled out-of-fold numbers, synthetic pair accuracy)."
        ),
    )
    add = parser.add_argument
    add("features", metavar="FEATURES",
        help="feature cache of an IQA dataset (`rankiqa features --dataset NAME`)")
    add("--out", required=True, metavar="RUN_DIR", help="run folder (one sub-folder per split)")
    add("--rank-features", nargs="+", metavar="FILE",
        help="ranked-set caches for the all-pairs ranking term")
    add("--scored-rank-features", nargs="+", metavar="FILE",
        help="ranked-set caches distorted from FEATURES' own photos (`rankiqa distort` on the "
        "dataset's image folder): each part ranks only its training photos' sequences, never "
        "a test, validation or lockbox photo's")
    add("--eval-rank-features", metavar="FILE",
        help="a ranked-set cache scored for pair accuracy only (synthetic check)")
    add("--split-file", metavar="FILE",
        help="split file (`rankiqa datasets --make-splits`); omitted: train on every image")
    add("--split-index", metavar="K|all",
        help="split K, or `all`: every split but the lockbox (default %(default)s)")
    add("--val-fraction", type=fraction_or_zero,
        help="share of each training part that chooses the epoch; 0: every training image "
        "trains and the last epoch is kept (default %(default)s)")
    add("--epochs", type=positive_int, help="epochs per head (default %(default)s)")
    add("--batch-size", type=positive_int, help="images per step (default %(default)s)")
    add("--lr", type=positive_float, help="AdamW learning rate, cosine schedule (default %(default)s)")
    add("--block-lr", type=positive_float,
        help="learning rate of the backbone blocks above the cache's cut (features --cut) "
        "(default %(default)s)")
    add("--map-crop", type=fraction_or_one,
        help="top training only: crop each opinion-scored training row's cached map to a random "
        "window, each side a uniform fraction in [F, 1] of the map's (at least 4 cells); 1: whole "
        "maps (default %(default)s)")
    add("--weight-decay", type=non_negative_float, help="AdamW weight decay (default %(default)s)")
    add("--hidden", type=non_negative_int,
        help="hidden width of each head; 0: linear heads (default %(default)s)")
    add("--rank-weight", type=non_negative_float,
        help="weight of the ranking term; 0: opinion scores only (default %(default)s)")
    add("--mos-weight", type=non_negative_float,
        help="weight of the opinion-score term; 0: the ranking term alone, RankIQA's first "
        "stage (default %(default)s)")
    add("--init", metavar="MODEL|RUN_DIR",
        help="top training only: start from a model file trained on a cache with the same "
        "frozen bottom, or from a run folder whose part of the same name starts each part "
        "(RankIQA's second stage after a --mos-weight 0 run); default: ImageNet top, new head")
    add("--rank-groups", type=positive_int, help="ranked sequences per step (default %(default)s)")
    add("--margin", type=positive_float,
        help="ranking hinge margin, in MOS standard deviations (default %(default)s)")
    add("--members", type=positive_int,
        help="heads from consecutive seeds, merged into one (default %(default)s)")
    add("--combine", choices=("average", "ensemble"),
        help="how --members become one model: 'average' their weights, or 'ensemble' (caches "
        "made with --cut only): each member a whole run of its own seed (validation part, "
        "initialisation, batches), one network averaging their scores (default %(default)s)")
    add("--half", action="store_true",
        help="store the model files' weights in float16 (half the size; scores move by rounding)")
    add("--merge-folds", action="store_true",
        help="also write OUT/merged/model.safetensors: the weight average (a model soup) of the "
        "cross-validation parts' models, which share one initialisation (caches made with "
        "--cut only)")
    add("--seed", type=non_negative_int, help="first seed (default %(default)s)")
    add("--name", help="the model files' name field")
    add_resume_option(parser, "the runs in --out")
    defaults_from(parser, HeadConfig, skip=("resume",))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from rankiqa.training.cached_run import train_head

    config = config_from(HeadConfig, args, out=args.out, resume=resume_flag(args.resume),
                         rank_features=list(args.rank_features or []),
                         scored_rank_features=list(args.scored_rank_features or []))
    results = train_head(config)
    brief = {name: {k: round(v, 4) for k, v in part.items() if isinstance(v, float)}
             for name, part in results["parts"].items()}
    print(json.dumps({"parts": brief, "pooled": results.get("pooled"),
                      **({"merged": results["merged"]} if "merged" in results else {})}))
    return 0
