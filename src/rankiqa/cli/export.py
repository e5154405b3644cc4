"""``rankiqa export``: checkpoint -> rankiqa model file, or model -> ONNX."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rankiqa.cli.argtypes import (
    add_deprecated_alias,
    image_side,
    json_object_file,
    pooling,
    positive_int,
    resize_or_none,
)
from rankiqa.cli.score import IntermixedParser
from rankiqa.core.errors import UserError

DESCRIPTION = """\
Convert a model. Forms:
  rankiqa export CHECKPOINT --format rankiqa OUT.safetensors [--resize N --crops S ...]
  rankiqa export --model M --format onnx OUT.onnx
The source (CHECKPOINT or --model) is a training checkpoint (.pt), a .safetensors model file or
a packaged model name (default: the packaged default model)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="convert checkpoints to model files, models to ONNX",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths", nargs="+", metavar="[SOURCE] OUT", help="optional source, then the output file"
    )
    parser.add_argument("--model", "-m", default=None, help="source model (instead of SOURCE)")
    parser.add_argument(
        "--format",
        choices=("rankiqa", "onnx"),
        default=None,
        help="format of OUT (default: from OUT's suffix)",
    )
    add_deprecated_alias(parser, "-f", "--format", dest="format", type=_model_format)
    group = parser.add_argument_group("model file metadata (--format rankiqa)")
    group.add_argument(
        "--resize",
        type=resize_or_none,
        default=argparse.SUPPRESS,
        metavar="N|none",
        help="shorter side images are resized to before cropping ('none': native resolution; "
        "default: the source's)",
    )
    add_deprecated_alias(group, "--input-resize", "--resize", dest="resize", type=resize_or_none)
    group.add_argument(
        "--crops",
        dest="test_crops",
        type=pooling,
        default=None,
        metavar="POOLING",
        help="test-time pooling: crops:N (or N), grid, grid:K, center, full (default: the source's)",
    )
    add_deprecated_alias(group, "--test-crops", "--crops", dest="test_crops", type=pooling)
    group.add_argument("--crop-size", type=image_side, default=None, help="network input crop size")
    group.add_argument("--name", default=None, help="model name stored in the file")
    group.add_argument(
        "--licence", default=None, help="licence of the weights (rankiqa.get_model_weights().meta)"
    )
    group.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="add a metric (repeatable), e.g. --metric clive_val_srocc=0.81",
    )
    group.add_argument("--metrics-json", default=None, help="JSON object file of metrics to add")
    group.add_argument(
        "--training-json", default=None, help="JSON object file describing the training recipe"
    )
    onnx = parser.add_argument_group("ONNX (--format onnx)")
    onnx.add_argument("--opset", type=positive_int, default=17, help="ONNX opset (default 17)")
    onnx.add_argument(
        "--static-size", action="store_true", help="fix height and width to the crop size"
    )
    onnx.add_argument(
        "--with-preprocessing",
        action="store_true",
        help="include the input protocol (resize, crops, view averaging): the ONNX input is one "
        "decoded uint8 HxWx3 RGB image of any size, the output its score",
    )
    parser.__class__ = IntermixedParser
    parser.set_defaults(run=run)


def _model_format(text: str) -> str:
    if text not in ("rankiqa", "onnx"):
        raise argparse.ArgumentTypeError(f"choose from rankiqa, onnx; got {text!r}")
    return text


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def run(args: argparse.Namespace) -> int:
    from rankiqa.inference.export.onnx import export_model

    if len(args.paths) > 2:
        raise UserError("export takes at most two paths: SOURCE OUT")
    if len(args.paths) == 2 and args.model:
        raise UserError("give the source either as SOURCE or as --model, not both")
    source = args.paths[0] if len(args.paths) == 2 else args.model
    out = Path(args.paths[-1])
    if args.format is None and out.suffix.lower() not in (".onnx", ".safetensors"):
        raise UserError(f"{out}: cannot tell the format from the suffix; pass --format")

    protocol: dict = {}
    if "resize" in args:  # given (None: native resolution)
        protocol["resize"] = args.resize
    if args.test_crops is not None:
        protocol["test_crops"] = args.test_crops
    if args.crop_size is not None:
        protocol["crop_size"] = args.crop_size
    metrics = json_object_file(args.metrics_json, "--metrics-json")
    for item in args.metric:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--metric: expected KEY=VALUE, got {item!r}")
        metrics[key] = _value(value)
    export_model(
        source,
        out,
        format=args.format,
        opset=args.opset,
        dynamic_size=False if args.static_size else None,
        preprocessing=args.with_preprocessing,
        input=protocol,
        name=args.name,
        licence=args.licence,
        metrics=metrics,
        training=json_object_file(args.training_json, "--training-json"),
    )
    print(f"wrote {out}")
    return 0
