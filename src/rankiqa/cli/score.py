"""``rankiqa score``: quality scores for image files, folders and globs."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rankiqa.cli.argtypes import (
    add_device_option,
    add_max_pixels_option,
    add_precision_option,
    add_workers_option,
    max_pixels_of,
    output_path,
    positive_int,
    shard,
    thread_count,
)
from rankiqa.cli.progress import Progress
from rankiqa.cli.workflow_options import add_filter_options, add_xmp_options, model_label
from rankiqa.core.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from rankiqa.inference.scoring.run import Engine, ScoringRun
    from rankiqa.workflow.filters import ScoreRange

DESCRIPTION = """\
Score the quality of images (0-100, higher is better with the default model).
PATH may be image files, folders (add --recursive for sub-folders) or quoted glob patterns.
Rows are written as images are scored; a file that cannot be scored (unreadable image, not an
image, missing file, broken link, empty folder, pattern without matches) gets its error in the
'error' column, the run goes on and the exit code is 1. A file named twice (a.png, ./a.png) is
scored once. The default output is a table, on a terminal and in a pipe; on a terminal it fits
the window (long paths shortened in the middle with '…'; csv/json hold full paths) and no
progress bar is drawn over it. --output's suffix picks the format (.csv, .json, .jsonl,
.txt = table, .xlsx = a spreadsheet via openpyxl: pip install 'rankiqa[xlsx]'; no suffix =
csv); another suffix is refused. --output FOLDER/ writes FOLDER/scores.csv. Files a folder
scan leaves out (RAW, HEIC, text, ...) are counted on stderr at the end (--verbose: named).
--resume skips the paths already in --output (csv or jsonl); --shard I/N scores a
deterministic 1/N of the files. --min-score/--max-score keep the rows in range (error rows
always stay); --sort score writes the rows best first once all are scored. --xmp writes each
photo's rating and score to its XMP sidecar (docs/cull.md). With --output, a last line on
stdout says what was written."""

#: --output suffix -> format
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".txt": "table"}
SUFFIX_FORMATS[".xlsx"] = "xlsx"


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
    add_filter_options(parser)
    add_xmp_options(parser)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders, globs")
    parser.add_argument(
        "--model", "-m", default=None, help="model name, .safetensors model file or checkpoint"
    )
    parser.add_argument(
        "--format",
        "-f",
        choices=("table", "csv", "json", "jsonl", "xlsx"),
        default=None,
        help="output format (default: from --output's suffix, csv without one; else table)",
    )
    parser.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="FILE",
        help="write rows to FILE (default stdout); FOLDER/ writes FOLDER/scores.csv",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="name the files a folder scan leaves out"
    )
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="images per batch (16)")
    add_workers_option(parser, None, "min(2, CPUs) from 64 images on, else 0")
    parser.add_argument("--threads", type=thread_count, default=None, help="torch CPU threads")
    parser.add_argument(
        "--shard", type=shard, default=None, metavar="I/N", help="score only shard I of N"
    )
    parser.add_argument(
        "--resume", action="store_true", help="skip paths already in --output (csv/jsonl)"
    )
    add_max_pixels_option(parser)
    parser.add_argument(
        "--exact-decode",
        action="store_true",
        help="always decode JPEGs at full resolution (default: reduced-scale decoding when the "
        "model downsizes the image anyway, as in the Python API; exact_decode=True there)",
    )
    add_device_option(parser)
    add_precision_option(parser)
    parser.add_argument(
        "--runtime",
        choices=("auto", "torch", "onnx"),
        default="auto",
        help="what runs the network: auto (ONNX Runtime, without torch, for packaged models "
        "on the CPU; ONNX Runtime or PyTorch otherwise), torch (needs rankiqa[torch]) or onnx",
    )
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
    """The output format: ``--format``, else ``--output``'s suffix; a suffix that names
    another format (or none we write) is refused, so no file is mislabelled."""
    if not args.output:
        return args.format or "table"
    suffix = Path(args.output).suffix.lower()
    named = SUFFIX_FORMATS.get(suffix)
    if suffix and named is None and args.format is None:
        known = ", ".join(SUFFIX_FORMATS)
        raise UserError(f"--output {args.output}: unknown suffix {suffix!r}; use one of {known}")
    if args.format and named and named != args.format:
        raise UserError(f"--format {args.format} does not match --output {args.output}")
    return args.format or named or "csv"


def _table_width(fmt: str, to_stdout: bool) -> int | None:
    """Columns the table must fit in: the terminal's, when the table goes to one."""
    if fmt != "table" or not to_stdout or not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def _show_progress(to_stdout: bool) -> bool:
    """A bar on stderr only on a terminal, and not when the rows go to that same terminal
    (the rows then show the progress; a bar would garble them)."""
    if not sys.stderr.isatty():
        return False
    return not (to_stdout and sys.stdout.isatty())


def run(args: argparse.Namespace) -> int:
    from rankiqa.inference.scoring.run import ScoringRun

    if args.output:
        args.output = output_path(args.output, "scores.csv")
    fmt = _format(args)
    if fmt == "xlsx" and not args.output:
        raise UserError("--format xlsx needs --output FILE.xlsx")
    if args.resume and not args.output:
        raise UserError("--resume needs --output FILE (the rows already written are skipped)")
    if args.engine == "local" and (args.address or args.num_actors):
        raise UserError("--address and --num-actors need --engine ray")
    from rankiqa.workflow.filters import ScoreRange

    limits = ScoreRange(args.min_score, args.max_score)
    if args.resume and (limits.active or args.sort != "path"):
        raise UserError("--resume cannot be combined with --min-score, --max-score or --sort")
    scoring = ScoringRun(
        args.paths,
        args.model,
        recursive=args.recursive,
        shard=args.shard,
        resume=(args.output, fmt) if args.resume else None,
        workers=args.workers,
        batch_size=args.batch_size,
        max_pixels=max_pixels_of(args),
        exact_decode=args.exact_decode,
        device=args.device,
        runtime=args.runtime,
        threads=args.threads,
        precision=args.precision,
    )
    engine = None
    if args.engine == "ray" and scoring.todo:  # same rows, order and writer; scored by Ray
        from rankiqa.integrations.ray import ray_engine

        engine = ray_engine(args.address, args.num_actors)
    return _write(args, fmt, scoring, engine, limits)


def _write(args: argparse.Namespace, fmt: str, scoring: ScoringRun, engine: Engine | None,
           limits: ScoreRange) -> int:
    """Write the run's rows as ``--format``/``--output`` ask, with progress; the exit code."""
    from rankiqa.inference.scoring.inputs import report_skipped
    from rankiqa.inference.scoring.results import RowWriter
    from rankiqa.workflow.filters import sort_rows

    named = [*scoring.todo, *(row.path for row in scoring.failed_inputs)]
    width = max((len(p) for p in named), default=0)
    to_stdout = not args.output
    if fmt == "xlsx":
        from rankiqa.inference.scoring.results import XlsxWriter

        stream = XlsxWriter(args.output)
    elif args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        mode = "a" if args.resume else "w"
        stream = open(args.output, mode, encoding="utf-8", newline="")  # noqa: SIM115
    else:
        stream = sys.stdout
    failures = 0
    try:
        writer = stream if fmt == "xlsx" else RowWriter(
            stream,
            fmt,
            path_width=width,
            header=not scoring.resumed_header,
            max_width=_table_width(fmt, to_stdout),
        )
        progress = Progress(len(scoring), enabled=_show_progress(to_stdout))
        sidecars = None
        if args.xmp:
            from rankiqa.workflow.xmp import SidecarWriter

            sidecars = SidecarWriter(model_label(scoring.model, args.model), args.xmp_style)
        held = []  # --sort score: written once all are scored
        for row in scoring.rows(engine):  # in path order, arguments that name nothing included
            failures += bool(row.error)
            progress.update()
            if sidecars is not None:
                sidecars.write(row.path, row.score)
            if not limits.keeps(row.score):
                continue
            if args.sort == "score":
                held.append(row)
            else:
                writer.write(row)
        for row in sort_rows(held, "score"):
            writer.write(row)
        progress.close()
        writer.close()
    finally:
        if stream is not sys.stdout and fmt != "xlsx":
            stream.close()
    if sidecars is not None:
        sidecars.close()
    report_skipped(scoring.skipped, args.verbose)
    total = len(scoring)
    if args.output:
        kept = f" ({writer.count} kept by --min-score/--max-score)" if limits.active else ""
        print(f"wrote {args.output}: {total} image{'s' if total != 1 else ''}{kept}")
    if failures:
        print(
            f"rankiqa: {failures} of {len(scoring)} files could not be scored "
            "(see the error column)",
            file=sys.stderr,
        )
        return 1
    return 0
