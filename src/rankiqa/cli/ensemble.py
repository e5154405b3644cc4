"""``rankiqa ensemble``: one model file from several trained on one ``--cut`` cache."""

from __future__ import annotations

import argparse

from rankiqa.cli.argtypes import json_object_file, positive_int
from rankiqa.core.errors import UserError

DESCRIPTION = """\
Join model files that `rankiqa train-head` trained on one `rankiqa features --cut K` cache (their
stem and blocks below K are equal) into one model: the bottom runs once, each member's top on
it, and the score is the mean of the members' linear scores, then their squash.
  rankiqa ensemble seed0/model.safetensors seed1/model.safetensors -o both.safetensors"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "ensemble",
        help="join models trained on one --cut cache into one (their prediction ensemble)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("models", nargs="+", metavar="MODEL", help="model files (two or more)")
    parser.add_argument("--output", "-o", required=True, help="the ensemble's model file")
    parser.add_argument("--cut", type=positive_int, default=None,
                        help="first block the members trained (default: from the first model's "
                        "training metadata)")
    parser.add_argument("--name", default=None, help="model name stored in the file")
    parser.add_argument("--half", action="store_true",
                        help="store the weights in float16 (half the file; scores move by "
                        "rounding only)")
    parser.add_argument("--metrics-json", default=None,
                        help="JSON object file of the ensemble's metrics to store")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rankiqa.core.model_file import read_metadata
    from rankiqa.inference.model.ensembling import ensemble_models

    cut = args.cut
    if cut is None:
        cut = (read_metadata(args.models[0]).get("training") or {}).get("cut")
        if cut is None:
            raise UserError(f"{args.models[0]}: its metadata names no cut; pass --cut K")
    out = ensemble_models(args.models, args.output, int(cut), name=args.name, half=args.half,
                          metrics=json_object_file(args.metrics_json, "--metrics-json"))
    print(f"wrote {out} ({len(args.models)} members)")
    return 0
