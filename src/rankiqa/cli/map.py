"""``rankiqa map``: per-region quality maps of images (PNG overlays or .npy values)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rankiqa.cli.argtypes import (
    add_device_option,
    add_max_pixels_option,
    add_precision_option,
    max_pixels_of,
    positive_int,
    thread_count,
)
from rankiqa.core.errors import UserError

DESCRIPTION = """\
Draw where an image is good or bad: the model's quality (0-100, higher is better) of
overlapping square regions, from one forward pass over the whole image.
With one image, --output is a file (.png: the map over the photo with a colour bar; .npy: the
values) or a folder; with several, a folder. In a folder each image's map keeps the image's
full name plus .png (or .npy with --format npy): gray.jpg -> OUT/gray.jpg.png, so gray.jpg and
gray.png never collide; images from sub-folders keep their sub-folder below OUT.
A file that cannot be read or mapped is reported on stderr with its name, the others are
mapped, the exit code is 1. Files a folder scan leaves out (RAW, HEIC, text, ...) are counted
on stderr at the end (--verbose: named)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "map",
        help="per-region quality maps of images",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="IMAGE", help="image files, folders, globs")
    parser.add_argument(
        "--output",
        "-o",
        default="maps/",
        help="output file (one image) or folder (several); default: the folder maps/",
    )
    parser.add_argument(
        "--format",
        choices=("png", "npy"),
        default=None,
        help="png (overlay) or npy (values); default: from --output's suffix, else png",
    )
    parser.add_argument(
        "--raw", action="store_true", help="PNG of the bare colour-mapped map (no photo, no bar)"
    )
    parser.add_argument(
        "--region",
        type=positive_int,
        default=None,
        help="region side in pixels at the model's input resolution (default: a third of the "
        "shorter side)",
    )
    parser.add_argument(
        "--overlap", type=positive_int, default=4, help="regions move by REGION/OVERLAP (4)"
    )
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    parser.add_argument(
        "--model", "-m", default=None, help="model name, .safetensors model file or checkpoint"
    )
    parser.add_argument("--threads", type=thread_count, default=None, help="torch CPU threads")
    add_max_pixels_option(parser)
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="name the files a folder scan leaves out"
    )
    add_device_option(parser)
    add_precision_option(parser)
    parser.set_defaults(run=run)


def _targets(paths: list[str], output: str, fmt: str | None) -> list[tuple[str, Path]]:
    """(image, map file) pairs; ``output`` is the file for one image, else a folder (also
    for one image when it ends in ``/`` or exists as a folder)."""
    trailing = output.endswith(("/", os.sep))
    output = Path(output)
    suffix = output.suffix.lower()
    if len(paths) == 1 and suffix in (".png", ".npy") and not output.is_dir() and not trailing:
        if fmt is not None and f".{fmt}" != suffix:
            raise UserError(f"--format {fmt} does not match --output {output}")
        return [(paths[0], output)]
    if suffix and suffix not in (".png", ".npy") and not output.is_dir() and not trailing:
        raise UserError(f"--output {output}: use a .png or .npy file, or a folder")
    if output.exists() and not output.is_dir():
        raise UserError(f"{output}: several images need an output folder, not a file")
    if len(paths) > 1 and suffix in (".png", ".npy") and not trailing:
        raise UserError(f"--output {output}: several images need a folder, not a {suffix} file")
    extension = f".{fmt or 'png'}"
    sources = [os.path.abspath(p) for p in paths]
    base = os.path.commonpath([os.path.dirname(p) for p in sources]) if sources else ""
    return [
        (path, output / (os.path.relpath(source, base) + extension))
        for path, source in zip(paths, sources, strict=True)
    ]


def run(args: argparse.Namespace) -> int:
    from rankiqa.core.imageio import ImageReadError, read_image
    from rankiqa.inference.model.map_grid import score_range
    from rankiqa.inference.scoring.choice import load_scorer
    from rankiqa.inference.scoring.cpu import configure_cpu
    from rankiqa.inference.scoring.inputs import expand_inputs, report_skipped
    from rankiqa.report.overlay import save_map

    configure_cpu(args.threads)
    skipped: list[str] = []
    paths = expand_inputs(args.paths, recursive=args.recursive, skipped=skipped)
    targets = _targets(paths, args.output, args.format)
    model = load_scorer(
        args.model, device=args.device, threads=args.threads, precision=args.precision
    )
    full = model.protocol.test_crops == "full"  # the map pass is then the score's pass
    failures = 0
    for path, target in targets:
        try:
            image = read_image(path, max_pixels=max_pixels_of(args))
            qmap = model.region_map(image, region=args.region, overlap=args.overlap)
            score = qmap.score if full else float(model.score(image))
            save_map(
                target,
                image,
                qmap,
                raw=args.raw,
                title=Path(path).name,
                score=score,
                value_range=score_range(model),
            )
        except (ImageReadError, UserError) as exc:
            message = str(exc)
            if not message.startswith(f"{path}:"):
                message = f"{path}: {message}"
            print(f"rankiqa: {message}", file=sys.stderr)
            failures += 1
            continue
        low, high = float(qmap.values.min()), float(qmap.values.max())
        print(f"{target}  score {score:.1f}  map {low:.1f}-{high:.1f}")
    report_skipped(skipped, args.verbose)
    if failures:
        print(f"rankiqa: {failures} of {len(targets)} images could not be mapped", file=sys.stderr)
        return 1
    return 0
