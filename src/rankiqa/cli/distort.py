"""``rankiqa distort``: write a ranked set of synthetically distorted images."""

from __future__ import annotations

import argparse
import sys

from rankiqa.cli.argtypes import non_negative_int, positive_int, worker_count


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "distort",
        help="generate a ranked set of distorted images (RankIQA stage 0)",
        description=(
            "Apply every distortion group of a preset at every level to each image under SRC "
            "and write lossless PNGs plus OUT/manifest.csv and OUT/preset.json. Rerunning the "
            "same command resumes: finished files are kept."
        ),
    )
    parser.add_argument(
        "src", metavar="SRC", help="folder of pristine images (searched recursively)"
    )
    parser.add_argument("out", metavar="OUT", help="output folder")
    parser.add_argument(
        "--preset",
        choices=("live", "tid2013", "mlive", "exposure"),
        default="live",
        help="distortion preset: live (4 types x 5 levels), tid2013 (19 groups x 4 levels) or "
        "mlive (blur then JPEG, blur then noise: 2 groups of 4x4 stage levels, partially ordered) "
        "or exposure (over/under-exposure in stops, contrast decrease: 3 groups x 5 levels)",
    )
    parser.add_argument(
        "--workers",
        type=worker_count,
        default=None,
        metavar="N",
        help="processes that decode and distort images; 0 = in the main process "
        "(default: all CPUs)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--max-side",
        type=positive_int,
        default=None,
        metavar="PX",
        help="first downsize (area interpolation) so the longer side is at most PX",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress bar (it is only drawn when stderr is a terminal)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rankiqa.distortions.generate import generate_ranked_set

    result = generate_ranked_set(
        args.src,
        args.out,
        preset=args.preset,
        workers=args.workers,
        seed=args.seed,
        max_side=args.max_side,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    print(
        f"{result.references - len(result.failed)} references, {result.rows} images "
        f"({result.written} written, {result.skipped} already done) -> {result.manifest}",
        file=sys.stderr,
    )
    if result.failed:
        for reference, error in result.failed:
            print(f"rankiqa: error: unreadable source {reference}: {error}", file=sys.stderr)
        print(f"rankiqa: {len(result.failed)} source image(s) skipped", file=sys.stderr)
        return 1
    return 0
