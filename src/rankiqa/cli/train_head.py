"""``rankiqa train-head``: a stats head on frozen features (how the default model is made)."""

from __future__ import annotations

import argparse
import dataclasses

from rankiqa.cli.argtypes import fraction, non_negative_int, positive_int

HELP = {
    "features": "feature cache of an IQA dataset (`rankiqa features --dataset NAME`)",
    "rank_features": "ranked-set caches for the all-pairs ranking term",
    "eval_rank_features": "a ranked-set cache scored for pair accuracy only (synthetic check)",
    "split_file": "split file (`rankiqa datasets --make-splits`); omitted: train on all images",
    "split_index": "split K, or `all` (every split but the lockbox)",
    "val_fraction": "share of each training part that chooses the epoch",
    "epochs": "epochs per head",
    "batch_size": "images per step",
    "lr": "AdamW learning rate (cosine schedule)",
    "weight_decay": "AdamW weight decay",
    "hidden": "hidden width of each head (0: linear heads)",
    "rank_weight": "weight of the ranking term (0: opinion scores only)",
    "rank_groups": "ranked sequences per step",
    "margin": "ranking hinge margin, in MOS standard deviations",
    "members": "heads from consecutive seeds, merged into one",
    "seed": "first seed",
    "name": "the model file's name field",
}
TYPES = {int: positive_int, float: float}
SPECIAL = {"val_fraction": fraction, "seed": non_negative_int, "hidden": non_negative_int, "rank_weight": float,
           "margin": float}


def add_parser(subparsers) -> None:
    from rankiqa.training.head import HeadConfig

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
    parser.add_argument("features", metavar="FEATURES", help=HELP["features"])
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="run folder")
    for f in dataclasses.fields(HeadConfig):
        if f.name in ("features", "out", "resume"):
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        help_text = f"{HELP[f.name]} (default: {default})"
        if f.name in ("rank_features",):
            parser.add_argument(flag, nargs="+", default=default, metavar="FILE", help=help_text)
        elif f.type in ("str | None", "str"):
            parser.add_argument(flag, default=default, help=help_text)
        else:
            kind = SPECIAL.get(f.name) or TYPES[type(default)]
            parser.add_argument(flag, type=kind, default=default, help=help_text)
    parser.add_argument("--resume", nargs="?", const=True, default=False,
                        choices=("auto",), help="continue the runs in OUT (auto: if any)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from rankiqa.training.head import HeadConfig, train_head

    names = {f.name for f in dataclasses.fields(HeadConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    config = HeadConfig(out=args.output, **values)
    results = train_head(config)
    brief = {name: {k: round(v, 4) for k, v in part.items() if isinstance(v, float)}
             for name, part in results["parts"].items()}
    print(json.dumps({"parts": brief, "pooled": results.get("pooled")}))
    return 0
