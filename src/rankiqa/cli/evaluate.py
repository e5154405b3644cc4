"""``rankiqa evaluate``: SROCC/KROCC/PLCC/RMSE of a model on an IQA dataset (and its splits)."""

from __future__ import annotations

import argparse

from rankiqa.cli.datasets import add_dataset_options


def _resize(value: str) -> int | str | None:
    if value == "model":
        return value
    if value.lower() in ("none", "native", "null"):
        return None
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'none', got {value!r}"
        ) from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'none', got {value!r}")
    return number


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
        required=True,
        help="model file (.safetensors), checkpoint (.pt) or packaged name",
    )
    add_dataset_options(parser)
    parser.add_argument("--split-file", help="JSON split file (rankiqa datasets --make-splits)")
    parser.add_argument(
        "--split-index", default="all", help="split to evaluate: K or all (default all)"
    )
    parser.add_argument(
        "--official-split",
        action="store_true",
        help="evaluate on the official test part (KonIQ-10k)",
    )
    parser.add_argument(
        "--crops",
        default=None,
        metavar="POOLING",
        help="test-time pooling: crops:N (the paper: crops:30), N, grid, grid:K, center, full "
        "(default: the model's)",
    )
    parser.add_argument(
        "--resize",
        type=_resize,
        default="model",
        help="shorter side before cropping, or none (default: the model's)",
    )
    parser.add_argument(
        "--crop-size", type=int, default=None, help="crop size (default: the model's)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, help="images per forward pass (default 8)"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="image decoding processes (default 0)"
    )
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, mps (default: cuda if available)"
    )
    parser.add_argument(
        "--no-per-type", action="store_true", help="skip the per-distortion-type rows"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON (with per-image predictions)"
    )
    parser.add_argument("--out", metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument(
        "--plot", metavar="PNG", help="scatter plot of predictions vs scores with the logistic fit"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from rankiqa.cli.datasets import load_from_args
    from rankiqa.core.devices import resolve_device
    from rankiqa.core.errors import UserError
    from rankiqa.data.iqa.transforms import normalise_pooling
    from rankiqa.data.splits import load_splits, official_split
    from rankiqa.evaluation.protocol import evaluate_table, format_report, json_safe
    from rankiqa.inference import load_model

    model = load_model(args.model)
    model = model.to(resolve_device(args.device))
    protocol = model.protocol
    test_crops = normalise_pooling(args.crops) if args.crops else protocol.test_crops
    resize = protocol.resize if args.resize == "model" else args.resize
    crop_size = args.crop_size or protocol.crop_size
    if test_crops == "full" and model.config.get("head") == "paper":
        raise UserError(
            "--crops full needs a size-agnostic head (compact or stats); this model has the paper's fc head"
        )
    table = load_from_args(args)
    splits = None
    if args.split_file and args.official_split:
        raise UserError("give either --split-file or --official-split")
    if args.split_file:
        splits = load_splits(args.split_file, table)
        if args.split_index != "all":
            try:
                k = int(args.split_index)
            except ValueError:
                raise UserError(
                    f"--split-index: expected K or all, got {args.split_index!r}"
                ) from None
            from rankiqa.data.splits import select_split

            splits = [select_split(splits, k, args.split_file)]
    elif args.official_split:
        splits = [official_split(table)]
    report = evaluate_table(
        model,
        table,
        splits,
        test_crops,
        crop_size,
        resize,
        batch_size=args.batch_size,
        workers=args.workers,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    if args.no_per_type:
        for s in report["splits"]:
            s.pop("per_type", None)
        report.pop("per_type_summary", None)
    report["model"] = str(args.model)
    report["model_score"] = {"offset": model.offset, "scale": model.scale}
    if args.plot:
        from rankiqa.evaluation.plots import scatter_plot

        p = report["predictions"]
        labels = [table.records[i].distortion for i in p["index"]]
        scatter_plot(
            p["prediction"],
            p["target"],
            args.plot,
            title=f"{table.name}: {args.model}",
            labels=labels if any(labels) else None,
        )
        report["plot"] = args.plot
    if args.out:
        from rankiqa.core.files import write_text_atomic

        write_text_atomic(args.out, json.dumps(json_safe(report), indent=1) + "\n")
    if args.json:
        print(json.dumps(json_safe(report), indent=1))
    else:
        print(format_report(report, table.distortion_names))
    return 0
