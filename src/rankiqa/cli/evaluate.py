"""``rankiqa evaluate``: SROCC/KROCC/PLCC/RMSE of a model on an IQA dataset (and its splits)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rankiqa.cli.argtypes import (
    add_deprecated_alias,
    add_device_option,
    add_workers_option,
    image_side,
    non_negative_int,
    output_path,
    pooling,
    positive_int,
    resize_or_none,
)
from rankiqa.cli.datasets import add_dataset_options

#: --plot suffixes (the figure is a PNG)
PLOT_SUFFIXES = (".png",)


def _resize(value: str) -> int | str | None:
    if value.strip().lower() == "model":
        return "model"
    return resize_or_none(value)


def _split_index(value: str) -> str | int:
    if value.strip().lower() == "all":
        return "all"
    try:
        return non_negative_int(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected K (>= 0) or all, got {value!r}") from None


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a model on an IQA dataset: SROCC, KROCC, PLCC, RMSE (raw and logistic-fitted)",
        description=(
            "Predict every test image with test-time pooling (the model's input protocol unless "
            "--crops/--resize/--crop-size override it) and compare with the dataset's scores "
            "rescaled to 0-100, higher is better. With --split-file, report each split's test "
            "part and the median and mean ± std over splits; per distortion type where the "
            "dataset has types. PLCC/RMSE are given raw and after the 5-parameter (Sheikh) and "
            "4-parameter (VQEG) logistic fits."
        ),
    )
    parser.add_argument(
        "--model",
        "-m",
        required=True,
        help="model file (.safetensors), checkpoint (.pt) or packaged name",
    )
    add_dataset_options(parser)
    parser.add_argument("--split-file", help="JSON split file (rankiqa datasets --make-splits)")
    parser.add_argument(
        "--split-index",
        type=_split_index,
        default="all",
        help="split to evaluate: K or all (default all)",
    )
    parser.add_argument(
        "--official-split",
        action="store_true",
        help="evaluate on the official test part (KonIQ-10k)",
    )
    parser.add_argument(
        "--crops",
        type=pooling,
        default=None,
        metavar="POOLING",
        help="test-time pooling: crops:N (the paper: crops:30), N, grid, grid:K, center, full "
        "(default: the model's)",
    )
    add_deprecated_alias(parser, "--test-crops", "--crops", dest="crops", type=pooling)
    parser.add_argument(
        "--resize",
        type=_resize,
        default="model",
        metavar="N|none",
        help="shorter side before cropping, or none (default: the model's)",
    )
    parser.add_argument(
        "--crop-size", type=image_side, default=None, help="crop size (default: the model's)"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=8, help="images per forward pass (default 8)"
    )
    add_workers_option(parser, 0, "0")
    add_device_option(parser)
    parser.add_argument(
        "--no-per-type", action="store_true", help="skip the per-distortion-type rows"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON (with per-image predictions)"
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="also write the JSON report to FILE (.json); FOLDER/ writes FOLDER/evaluation.json",
    )
    add_deprecated_alias(parser, "--out", "--output", dest="output")
    parser.add_argument(
        "--plot", metavar="PNG", help="scatter plot of predictions vs scores with the logistic fit"
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress bar (it is only drawn when stderr is a terminal)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from rankiqa.cli.datasets import load_from_args
    from rankiqa.core.errors import UserError
    from rankiqa.core.files import write_text_atomic
    from rankiqa.data.splits import choose_splits
    from rankiqa.evaluation.protocol import evaluate_model, format_report, json_safe
    from rankiqa.inference import load_model

    if args.output:
        args.output = output_path(args.output, "evaluation.json")
        if Path(args.output).suffix.lower() != ".json":
            raise UserError(f"--output {args.output}: the report is JSON; name a .json file")
    if args.plot and Path(args.plot).suffix.lower() not in PLOT_SUFFIXES:
        raise UserError(f"--plot {args.plot}: use one of {', '.join(PLOT_SUFFIXES)}")
    model = load_model(args.model)
    table = load_from_args(args)
    splits = choose_splits(table, args.split_file, args.split_index, args.official_split)
    report = evaluate_model(
        model,
        table,
        splits,
        test_crops=args.crops,
        resize=args.resize,
        crop_size=args.crop_size,
        batch_size=args.batch_size,
        workers=args.workers,
        progress=not args.no_progress and sys.stderr.isatty(),
        per_type=not args.no_per_type,
        device=args.device,
    )
    report["model"] = str(args.model)
    if args.plot:
        from rankiqa.evaluation.plots import plot_report

        plot_report(report, table, args.plot, title=f"{table.name}: {args.model}")
        report["plot"] = args.plot
    if args.output:
        write_text_atomic(args.output, json.dumps(json_safe(report), indent=1) + "\n")
    if args.json:
        print(json.dumps(json_safe(report), indent=1))
    else:
        print(format_report(report, table.distortion_names))
    return 0
