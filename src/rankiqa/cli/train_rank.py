"""``rankiqa train-rank``: train a ranking network on a ranked set (RankIQA stage 1)."""

from __future__ import annotations

import argparse
import json

from rankiqa.cli.argtypes import (
    config_from,
    defaults_from,
    fraction,
    positive_float,
    probability,
    resume_flag,
)
from rankiqa.cli.training_options import (
    add_crop_size_option,
    add_network_options,
    add_optimiser_options,
    add_run_options,
)
from rankiqa.training.options import RANK_LR, RANK_LR_DEFAULT, RankTrainConfig

DESCRIPTION = """\
Train a quality network to rank synthetically distorted images (RankIQA stage 1) with the
efficient all-pairs batch hinge loss. DATA is the output folder of `rankiqa distort`.
References are split into train/validation; validation reports pairwise ranking accuracy and
the mean Spearman correlation between score and distortion level. Writes RUN_DIR/metrics.csv,
curves.png, checkpoint.pt (latest, for --resume), best.pt and summary.json.
Defaults follow the authors' solvers (SGD with momentum, the live layout's lower learning rate,
step decay, weight decay, a 10x head learning rate; see each option).
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
    add_network_options(p)
    p.add_argument(
        "--layout",
        help="batch layout: live (4 groups x 6 levels x 2 refs = 48), tid (9x5x1 = 45), GxLxR, "
        "or auto (from the ranked set) (default: %(default)s)",
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        help="learning rate (default: "
        + "".join(f"{lr:g} for the {name} layout, " for name, lr in RANK_LR.items())
        + f"else {RANK_LR_DEFAULT:g})",
    )
    add_optimiser_options(p)
    p.add_argument("--margin", type=positive_float, help="hinge margin (default: %(default)s)")
    p.add_argument(
        "--pairs",
        choices=["reference", "group"],
        help="rank pairs of the same reference only (the paper) or across the references "
        "of a group (released LIVE code) (default: %(default)s)",
    )
    p.add_argument(
        "--loss-norm",
        dest="reduction",
        choices=["batch", "pairs", "sum"],
        help="divide the summed hinge loss by the batch size, the pair count, or not "
        "(default: %(default)s)",
    )
    add_crop_size_option(p)
    p.add_argument("--dropout", type=probability, help="override the head's dropout probability")
    p.add_argument(
        "--val-fraction",
        type=fraction,
        help="fraction of references held out (default: %(default)s)",
    )
    add_run_options(p, "the run in RUN_DIR")
    defaults_from(p, RankTrainConfig, skip=("resume",))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rankiqa.training.rank import train_rank

    config = config_from(
        RankTrainConfig,
        args,
        resume=resume_flag(args.resume),
        progress=False if args.no_progress else None,
    )
    summary = train_rank(config)
    if summary["rank"] == 0:
        print(json.dumps({k: summary[k] for k in ("steps", "seconds", "val", "best")}, indent=2))
    return 0
