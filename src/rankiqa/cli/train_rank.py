"""``rankiqa train-rank``: train a ranking network on a ranked set (RankIQA stage 1)."""

from __future__ import annotations

import argparse
import json

from rankiqa.cli.argtypes import (
    add_device_option,
    add_resume_option,
    add_workers_option,
    config_from,
    decay_factor,
    defaults_from,
    fraction,
    image_side,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    resume_flag,
)
from rankiqa.models.backbones import BACKBONES
from rankiqa.models.head_specs import HEADS, heads_help
from rankiqa.training.options import OPTIMIZERS, RANK_LR, RANK_LR_DEFAULT, RankTrainConfig

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
    p.add_argument(
        "--backbone",
        choices=list(BACKBONES),
        metavar="NAME",
        help=f"{', '.join(BACKBONES)} (default: %(default)s)",
    )
    p.add_argument(
        "--head", choices=list(HEADS), help=f"head (default: %(default)s): {heads_help()}"
    )
    p.add_argument(
        "--backbone-weights",
        metavar="PATH|imagenet",
        help="initial backbone weights: a local state-dict file, or 'imagenet' (torchvision's, "
        "downloaded once into the torch cache; offline, pass the file instead)",
    )
    p.add_argument(
        "--layout",
        help="batch layout: live (4 groups x 6 levels x 2 refs = 48), tid (9x5x1 = 45), GxLxR, "
        "or auto (from the ranked set) (default: %(default)s)",
    )
    p.add_argument("--iters", type=positive_int, help="iterations (default: %(default)s)")
    p.add_argument(
        "--lr",
        type=positive_float,
        help="learning rate (default: "
        + "".join(f"{lr:g} for the {name} layout, " for name, lr in RANK_LR.items())
        + f"else {RANK_LR_DEFAULT:g})",
    )
    p.add_argument("--lr-step", type=positive_int, help="lr decay period (default: %(default)s)")
    p.add_argument("--lr-gamma", type=decay_factor, help="lr decay factor (default: %(default)s)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="default: %(default)s")
    p.add_argument("--momentum", type=probability, help="SGD momentum (default: %(default)s)")
    p.add_argument("--weight-decay", type=non_negative_float, help="default: %(default)s")
    p.add_argument(
        "--head-lr-mult", type=positive_float, help="head lr factor (default: %(default)s)"
    )
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
    p.add_argument(
        "--crop-size", type=image_side, help="training crop (default: the backbone's input size)"
    )
    p.add_argument("--dropout", type=probability, help="override the head's dropout probability")
    p.add_argument(
        "--val-fraction",
        type=fraction,
        help="fraction of references held out (default: %(default)s)",
    )
    p.add_argument(
        "--val-every",
        type=positive_int,
        help="validate + checkpoint period (default: %(default)s)",
    )
    p.add_argument(
        "--log-every", type=positive_int, help="train-metrics period (default: %(default)s)"
    )
    add_workers_option(p)
    p.add_argument("--seed", type=non_negative_int, help="random seed (default: %(default)s)")
    add_resume_option(p, "the run in RUN_DIR")
    add_device_option(p)
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress (a bar on a terminal, else a line per validation or ~5%%)",
    )
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
