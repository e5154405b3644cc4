"""``rankiqa features``: cache a frozen backbone's stats-head inputs for ``train-head``."""

from __future__ import annotations

import argparse

from rankiqa.cli.argtypes import defaults_from, positive_int
from rankiqa.models.backbones import BACKBONES
from rankiqa.training.options import FeaturesConfig


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "features",
        help="cache frozen-backbone features of a dataset or ranked set (for train-head)",
        description=(
            "Run a frozen ImageNet backbone once over every image of ROOT (an IQA dataset with "
            "--dataset NAME, or a `rankiqa distort` folder) at a fixed input size and store the "
            "pooled statistics its stats head sees, with each image's mirror. Rerunning an "
            "interrupted command resumes from its saved chunks."
        ),
    )
    parser.add_argument("root", metavar="ROOT", help="dataset root or ranked-set folder")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="feature cache to write (.safetensors)",
    )
    parser.add_argument(
        "--dataset",
        help="IQA dataset name (see `rankiqa datasets`) or `ranked` (default %(default)s)",
    )
    parser.add_argument(
        "--backbone",
        choices=list(BACKBONES),
        metavar="NAME",
        help=f"backbone with a stats head: {', '.join(BACKBONES)} (default %(default)s)",
    )
    parser.add_argument(
        "--backbone-weights",
        metavar="PATH",
        help="`imagenet` (locally installed weights) or a local file (default %(default)s)",
    )
    parser.add_argument(
        "--resize",
        type=positive_int,
        metavar="PX",
        help="shorter side of the whole-image input (default %(default)s)",
    )
    parser.add_argument(
        "--no-flip", action="store_true", help="no mirrored copy (evaluation-only caches)"
    )
    defaults_from(parser, FeaturesConfig)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from rankiqa.training.features import cache_features

    path = cache_features(
        args.output,
        args.root,
        dataset=args.dataset,
        backbone=args.backbone,
        weights=args.backbone_weights,
        resize=args.resize,
        flips=not args.no_flip,
        progress=True,
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0
