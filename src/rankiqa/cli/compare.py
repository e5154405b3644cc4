"""``rankiqa compare``: two runs' predictions of the same photos, compared paired."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rankiqa.cli.argtypes import non_negative_int, output_path, positive_int
from rankiqa.core.errors import UserError

DESCRIPTION = """\
Compare two models' predictions of the same photos: SROCC and PLCC of each with 95 % bootstrap
intervals, and the paired interval of CANDIDATE - BASELINE (each resample scores both on the
same photos). BASELINE and CANDIDATE are `rankiqa train-head` run folders (their
predictions.csv: the out-of-fold photos of a cross-validation run) or CSV files with the columns
image, target, prediction. The lockbox's rows are read only with --read-lockbox.
  rankiqa compare work/cv-route-a work/cv-route-b
  rankiqa compare work/box-a work/box-b --read-lockbox -o box.json"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two runs' predictions of the same photos (paired bootstrap)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("baseline", metavar="BASELINE", help="run folder or predictions CSV")
    parser.add_argument("candidate", metavar="CANDIDATE", help="run folder or predictions CSV")
    parser.add_argument("--read-lockbox", action="store_true",
                        help="compare the lockbox part's predictions (default: the rows "
                        "outside the lockbox)")
    parser.add_argument("--resamples", type=positive_int, default=None,
                        help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the resampling (default 0)")
    parser.add_argument("--output", "-o", default=None,
                        help="also write the comparison as JSON (a folder gets compare.json)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rankiqa.core.files import write_text_atomic
    from rankiqa.evaluation.compare import compare_files, format_comparison
    from rankiqa.evaluation.metrics import CI_RESAMPLES

    output = None
    if args.output:
        output = output_path(args.output, "compare.json")
        if Path(output).suffix.lower() != ".json":
            raise UserError(f"--output {output}: the comparison is JSON; name a .json file")
    result = compare_files(args.baseline, args.candidate, lockbox=args.read_lockbox,
                           resamples=args.resamples or CI_RESAMPLES, seed=args.seed)
    print(format_comparison(result))
    if output:
        write_text_atomic(output, json.dumps(result, indent=1) + "\n")
    return 0
