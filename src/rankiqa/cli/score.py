"""``rankiqa score``: quality scores for image files, folders and globs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rankiqa.cli.argtypes import non_negative_int, positive_int
from rankiqa.errors import UserError

DESCRIPTION = """\
Score the quality of images (0-100, higher is better with the default model).
PATH may be image files, folders (add --recursive for sub-folders) or quoted glob patterns.
Rows are written as images are scored; a file that cannot be scored gets its error in the
'error' column, the run goes on and the exit code is 1. --resume skips the paths already in
--output (csv or jsonl); --shard I/N scores a deterministic 1/N of the files."""


#: with --workers unset, smaller jobs decode in the main process (no worker start-up)
AUTO_WORKERS_MIN_IMAGES = 64


class IntermixedParser(argparse.ArgumentParser):
    """Lets positionals follow options (``score a.jpg --model M b.jpg``)."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score the quality of images",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders, globs")
    parser.add_argument(
        "--model", "-m", default=None, help="model name, .safetensors model file or checkpoint"
    )
    parser.add_argument(
        "--format",
        "-f",
        choices=("table", "csv", "json", "jsonl"),
        default=None,
        help="output format (default: from --output's suffix, else table)",
    )
    parser.add_argument("--output", "-o", default=None, help="write rows to FILE (default stdout)")
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="images per batch (16)")
    parser.add_argument(
        "--workers",
        type=non_negative_int,
        default=None,
        help="decoding worker processes (default: min(2, CPUs) from 64 images on, else 0 = "
        "decode in the main process)",
    )
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    parser.add_argument("--shard", default=None, metavar="I/N", help="score only shard I of N")
    parser.add_argument(
        "--resume", action="store_true", help="skip paths already in --output (csv/jsonl)"
    )
    parser.add_argument(
        "--max-pixels",
        type=positive_int,
        default=None,
        help="refuse images with more pixels (decompression bombs; default 100 megapixels)",
    )
    parser.add_argument(
        "--exact-decode",
        action="store_true",
        help="always decode JPEGs at full resolution (default: reduced-scale decoding when the "
        "model downsizes the image anyway)",
    )
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this machine; ray: a Ray actor pool (pip install 'rankiqa[ray]'; "
        "see docs/scale-out.md)",
    )
    parser.add_argument(
        "--address", default=None, help="Ray cluster to join (default: $RAY_ADDRESS, else local)"
    )
    parser.add_argument(
        "--num-actors", type=positive_int, default=None, help="Ray scoring actors (one per CPU)"
    )
    parser.__class__ = IntermixedParser
    parser.set_defaults(run=run)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    if args.output:
        suffix = Path(args.output).suffix.lower().lstrip(".")
        if suffix in ("csv", "json", "jsonl"):
            return suffix
        return "csv"
    return "table"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rankiqa.imageio import DEFAULT_MAX_PIXELS
    from rankiqa.inference.api import load_model
    from rankiqa.inference.batch import iter_scores
    from rankiqa.inference.inputs import expand_inputs, parse_shard, select_shard
    from rankiqa.inference.results import RowWriter, completed_paths
    from rankiqa.inference.runtime import configure_cpu

    fmt = _format(args)
    if args.resume and not args.output:
        raise UserError("--resume needs --output FILE (the rows already written are skipped)")
    shard = parse_shard(args.shard) if args.shard else None
    configure_cpu(args.threads)
    paths = expand_inputs(args.paths, recursive=args.recursive)
    if shard:
        paths = select_shard(paths, *shard)
    model = load_model(args.model, device=args.device)

    done: set[str] = set()
    has_header = False
    if args.resume:
        done, has_header = completed_paths(args.output, fmt)
    todo = [p for p in paths if p not in done]
    width = max((len(p) for p in todo), default=0)
    if args.workers is None:  # auto: worker start-up (~0.5 s) only pays off for larger jobs
        workers = min(2, os.cpu_count() or 1) if len(todo) >= AUTO_WORKERS_MIN_IMAGES else 0
    else:
        workers = min(args.workers, max(0, len(todo) - 1))
    if args.engine == "ray" and todo:  # same rows, order and writer; scored by Ray actors
        from rankiqa.integrations.ray import ray_engine

        iter_scores = ray_engine(args.address, args.num_actors)  # noqa: F811
    elif args.engine == "local" and (args.address or args.num_actors):
        raise UserError("--address and --num-actors need --engine ray")

    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        mode = "a" if args.resume else "w"
        stream = open(args.output, mode, encoding="utf-8", newline="")  # noqa: SIM115
    else:
        stream = sys.stdout
    failures = 0
    try:
        writer = RowWriter(stream, fmt, path_width=width, header=not has_header)
        progress = tqdm(
            total=len(todo), unit="img", disable=not sys.stderr.isatty(), file=sys.stderr
        )
        for row in iter_scores(
            model,
            todo,
            batch_size=args.batch_size,
            workers=workers,
            max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
            draft=not args.exact_decode,
        ):
            writer.write(row)
            failures += bool(row.error)
            progress.update()
        progress.close()
        writer.close()
    finally:
        if stream is not sys.stdout:
            stream.close()
    if failures:
        print(
            f"rankiqa: {failures} of {len(todo)} files could not be scored (see the error column)",
            file=sys.stderr,
        )
        return 1
    return 0
