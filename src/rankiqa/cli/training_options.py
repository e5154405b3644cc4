"""The options ``train-rank`` and ``finetune`` share, defined once: the network, the
optimiser and its schedule, the training crop, and the run (validation, logs, workers, seed,
resume, device, progress). Each command adds its own options beside them; their defaults come
from the command's config class (``defaults_from``)."""

from __future__ import annotations

from typing import Any

from rankiqa.cli.argtypes import (
    add_device_option,
    add_resume_option,
    add_workers_option,
    decay_factor,
    image_side,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
)
from rankiqa.models.backbones import BACKBONES
from rankiqa.models.head_specs import HEADS, heads_help
from rankiqa.training.options import OPTIMIZERS


def add_network_options(parser: Any, when: str = "", weights_help: str = "") -> None:
    """``--backbone``, ``--head``, ``--backbone-weights`` (``when``: for which starts they
    count, e.g. "for imagenet/scratch")."""
    when = f" {when}" if when else ""
    parser.add_argument(
        "--backbone",
        choices=list(BACKBONES),
        metavar="NAME",
        help=f"backbone{when}: {', '.join(BACKBONES)} (default: %(default)s)",
    )
    parser.add_argument(
        "--head", choices=list(HEADS), help=f"head{when} (default: %(default)s): {heads_help()}"
    )
    parser.add_argument(
        "--backbone-weights",
        metavar="PATH|imagenet",
        help=weights_help
        or "initial backbone weights: a local state-dict file, or 'imagenet' (torchvision's, "
        "downloaded once into the torch cache; offline, pass the file instead)",
    )


def add_optimiser_options(parser: Any) -> None:
    """``--optimizer``, ``--lr-step``, ``--lr-gamma``, ``--momentum``, ``--weight-decay``,
    ``--head-lr-mult``, ``--iters`` (``--lr`` is each command's: its defaults differ)."""
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default: %(default)s")
    parser.add_argument(
        "--lr-step", type=positive_int, help="iterations between lr decays (default: %(default)s)"
    )
    parser.add_argument(
        "--lr-gamma", type=decay_factor, help="lr decay factor (default: %(default)s)"
    )
    parser.add_argument("--momentum", type=probability, help="SGD momentum (default: %(default)s)")
    parser.add_argument("--weight-decay", type=non_negative_float, help="default: %(default)s")
    parser.add_argument(
        "--head-lr-mult", type=positive_float, help="head lr multiplier (default: %(default)s)"
    )
    parser.add_argument("--iters", type=positive_int, help="iterations (default: %(default)s)")


def add_crop_size_option(parser: Any) -> None:
    """``--crop-size``: the training crop."""
    parser.add_argument(
        "--crop-size", type=image_side, help="training crop (default: the backbone's input size)"
    )


def add_run_options(parser: Any, resume_what: str = "the run in --out") -> None:
    """``--val-every``, ``--log-every``, ``--workers``, ``--seed``, ``--resume``, ``--device``,
    ``--no-progress``."""
    parser.add_argument(
        "--val-every",
        type=positive_int,
        help="validate + checkpoint every N iterations (default: %(default)s)",
    )
    parser.add_argument(
        "--log-every", type=positive_int, help="train-metrics period (default: %(default)s)"
    )
    add_workers_option(parser)
    parser.add_argument("--seed", type=non_negative_int, help="random seed (default: %(default)s)")
    add_resume_option(parser, resume_what)
    add_device_option(parser)
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress (a bar on a terminal, else a line per validation or ~5%%)",
    )
