"""``rankiqa datasets``: list the supported IQA datasets, check one, write split files."""

from __future__ import annotations

import argparse
import math

from rankiqa.cli.argtypes import fraction, non_negative_int, positive_int
from rankiqa.data.iqa.registry import DATASETS


def score_range(value: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI (e.g. 1,5), got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise argparse.ArgumentTypeError(f"expected finite LO,HI, got {value!r}")
    if not hi > lo:
        raise argparse.ArgumentTypeError(f"expected LO < HI, got {value!r}")
    return lo, hi


def add_dataset_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """--dataset/--root and the loader options shared by datasets, finetune and evaluate."""
    group = parser.add_argument_group("dataset")
    group.add_argument(
        "--dataset",
        required=required,
        choices=sorted(DATASETS),
        help="dataset name (see 'rankiqa datasets')",
    )
    group.add_argument(
        "--root", required=required, help="dataset folder as distributed (csv: the CSV file)"
    )
    group.add_argument(
        "--direction",
        choices=("higher", "lower"),
        default=None,
        help="csv only: is a higher raw score better (MOS, default) or worse (DMOS)",
    )
    group.add_argument(
        "--score-range",
        type=score_range,
        default=None,
        metavar="LO,HI",
        help="csv only: nominal score range for the 0-100 rescaling (default: observed min,max)",
    )
    group.add_argument(
        "--include-references",
        action="store_true",
        help="live only: keep the reference copies (orgs == 1), left out by default",
    )


def dataset_options(args: argparse.Namespace) -> dict:
    options = {}
    if args.dataset == "csv":
        options = {"direction": args.direction or "higher", "score_range": args.score_range}
    elif args.direction is not None or args.score_range is not None:
        from rankiqa.core.errors import UserError

        raise UserError("--direction/--score-range apply to --dataset csv only")
    if args.include_references:
        options["include_references"] = True
    return options


def load_from_args(args: argparse.Namespace, verify: bool = True):
    from rankiqa.data.iqa import load_iqa_dataset

    return load_iqa_dataset(args.dataset, args.root, verify=verify, **dataset_options(args))


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "datasets",
        help="list IQA datasets with their expected layout; check one; write split files",
        description=(
            "Without --dataset: list the supported datasets and the files each loader expects. "
            "With --dataset and --root: load it and print a summary. With --make-splits FILE: "
            "also write N random 80/20 splits (by reference for synthetic datasets, by image "
            "for authentic ones; --official-split for KonIQ-10k's own split) to a JSON split "
            "file that finetune and evaluate read with --split-file."
        ),
    )
    add_dataset_options(parser, required=False)
    parser.add_argument("--make-splits", metavar="FILE", help="write a JSON split file")
    parser.add_argument(
        "--splits", type=positive_int, default=10, help="number of random splits (default 10)"
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the random splits (default 0)"
    )
    parser.add_argument(
        "--test-fraction", type=fraction, default=0.2, help="test share (default 0.2)"
    )
    parser.add_argument(
        "--by",
        choices=("auto", "reference", "image"),
        default="auto",
        help="split unit: auto = reference for synthetic datasets, image for authentic ones",
    )
    parser.add_argument(
        "--official-split", action="store_true", help="use the dataset's official split (KonIQ-10k)"
    )
    parser.add_argument(
        "--lockbox",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="lockbox protocol: set N images aside (seeded), write --folds cross-validation "
        "splits of the rest, then one split testing on the lockbox (default 0: no lockbox; random "
        "splits, or with --folds K-fold cross-validation of every image)",
    )
    parser.add_argument(
        "--folds",
        type=positive_int,
        default=None,
        help="cross-validation folds: of the images outside the lockbox with --lockbox "
        "(default 5); without --lockbox, K-fold cross-validation of every image",
    )
    parser.add_argument(
        "--scores-only",
        action="store_true",
        help="parse the score files without checking the images",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from rankiqa.core.errors import UserError

    if args.dataset is None:
        if args.root or args.make_splits:
            raise UserError("--root/--make-splits need --dataset")
        if args.json:
            print(
                json.dumps(
                    {
                        n: {
                            "title": i.title,
                            "kind": i.kind,
                            "scores": i.scores,
                            "layout": i.layout,
                        }
                        for n, i in DATASETS.items()
                    },
                    indent=2,
                )
            )
            return 0
        for name, info in DATASETS.items():
            print(
                f"{name:9s} {info.title} [{info.kind}]\n          scores: {info.scores}\n          layout: {info.layout}"
            )
        return 0
    if not args.root:
        raise UserError("--dataset needs --root")
    table = load_from_args(args, verify=not args.scores_only)
    summary = table.summary()
    if args.make_splits:
        from rankiqa.data.splits import make_splits, save_splits

        by = None if args.by == "auto" else args.by == "reference"
        splits, info = make_splits(
            table,
            args.splits,
            args.test_fraction,
            args.seed,
            by,
            args.official_split,
            lockbox=args.lockbox,
            folds=args.folds,
        )
        save_splits(args.make_splits, table, splits, **info)
        summary["split_file"] = args.make_splits
        summary["splits"] = [
            {"train": len(s.train), "test": len(s.test), **({"lockbox": True} if s.lockbox else {})}
            for s in splits
        ]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0
