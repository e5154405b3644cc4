"""``rankiqa map``: per-region quality maps of images (PNG overlays or .npy values)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rankiqa.cli.argtypes import add_device_option, positive_int, thread_count
from rankiqa.core.devices import resolve_device
from rankiqa.core.errors import UserError

DESCRIPTION = """\
Draw where an image is good or bad: the model's quality (0-100, higher is better) of
overlapping square regions, from one forward pass over the whole image.
With one image, --output is a file (.png: the map over the photo with a colour bar; .npy: the
values); with several, a folder that gets NAME.png (or NAME.npy with --format npy) per image.
A file that cannot be read is reported on stderr, the others are mapped, the exit code is 1."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "map",
        help="per-region quality maps of images",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="IMAGE", help="image files, folders, globs")
    parser.add_argument(
        "--output", "-o", required=True, help="output file (one image) or folder (several)"
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
    add_device_option(parser)
    parser.set_defaults(run=run)


def _targets(paths: list[str], output: Path, fmt: str | None) -> list[tuple[str, Path]]:
    suffix = output.suffix.lower()
    if len(paths) == 1 and suffix in (".png", ".npy") and not output.is_dir():
        if fmt is not None and f".{fmt}" != suffix:
            raise UserError(f"--format {fmt} does not match --output {output}")
        return [(paths[0], output)]
    if suffix and suffix not in (".png", ".npy") and not output.is_dir():
        raise UserError(f"--output {output}: use a .png or .npy file, or a folder")
    if output.exists() and not output.is_dir():
        raise UserError(f"{output}: several images need an output folder, not a file")
    if len(paths) > 1 and suffix in (".png", ".npy"):
        raise UserError(f"--output {output}: several images need a folder, not a {suffix} file")
    extension = f".{fmt or 'png'}"
    used: set[str] = set()
    targets = []
    for path in paths:
        stem = Path(path).stem or "image"
        name, counter = stem, 2
        while name in used:
            name, counter = f"{stem}_{counter}", counter + 1
        used.add(name)
        targets.append((path, output / f"{name}{extension}"))
    return targets


def run(args: argparse.Namespace) -> int:
    from rankiqa.core.imageio import ImageReadError, read_image
    from rankiqa.inference.api import load_model
    from rankiqa.inference.inputs import expand_inputs
    from rankiqa.inference.quality_map import quality_map, score_range
    from rankiqa.inference.runtime import configure_cpu
    from rankiqa.report.overlay import save_map

    configure_cpu(args.threads)
    paths = expand_inputs(args.paths, recursive=args.recursive)
    targets = _targets(paths, Path(args.output), args.format)
    model = load_model(args.model, device=str(resolve_device(args.device)))
    full = model.protocol.test_crops == "full"  # the map pass is then the score's pass
    failures = 0
    for path, target in targets:
        try:
            image = read_image(path)
            qmap = quality_map(model, image, region=args.region, overlap=args.overlap)
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
        except ImageReadError as exc:
            print(f"rankiqa: {exc}", file=sys.stderr)
            failures += 1
            continue
        low, high = float(qmap.values.min()), float(qmap.values.max())
        print(f"{target}  score {score:.1f}  map {low:.1f}-{high:.1f}")
    if failures:
        print(f"rankiqa: {failures} of {len(targets)} images could not be mapped", file=sys.stderr)
        return 1
    return 0
