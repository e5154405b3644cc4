"""``rankiqa cull``: group bursts and near-duplicates, pick the best photo of each."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rankiqa.cli.argtypes import (
    add_device_option,
    add_max_pixels_option,
    add_precision_option,
    add_workers_option,
    max_pixels_of,
    non_negative_float,
    output_path,
    positive_int,
    thread_count,
)
from rankiqa.cli.workflow_options import add_xmp_options, model_label
from rankiqa.core.errors import UserError

DESCRIPTION = """\
Cull a card of photos: group bursts and near-duplicates, and pick the best of each group by
quality score. Two photos are one group when they look alike (a 32x32 fingerprint matched
over small shifts, similarity >= --similarity), or look roughly alike (>= --burst-similarity)
and were taken at most --time-gap seconds apart (EXIF DateTimeOriginal with sub-seconds; a
photo without it is grouped by its look alone). A photo like no other is its own group and
its own pick. One row per photo: path, score, group, pick (1 = best of its group), error.
Non-destructive: photos are only read. --picks-to FOLDER puts the picks there (hard links by
default, --copy or --symlink; their XMP sidecars go along); --xmp writes ratings to sidecars
(--reject: -1, "rejected", for the photos that are not picks). --output's suffix picks the
format (.csv, .json, .jsonl, .txt = table; no suffix = csv), written atomically; without
--output a table goes to stdout. Thresholds and their measurements: docs/cull.md."""

#: --output suffix -> format
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".txt": "table", "": "csv"}


def add_parser(subparsers) -> None:
    from rankiqa.workflow.bursts import BurstRule

    rule = BurstRule()
    parser = subparsers.add_parser(
        "cull",
        help="group bursts and near-duplicates; pick the best photo of each",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders, globs")
    parser.add_argument(
        "--output", "-o", default=None, metavar="FILE",
        help="write the rows to FILE (default: a table on stdout); FOLDER/ writes FOLDER/cull.csv",
    )  # fmt: skip
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    parser.add_argument(
        "--picks-to", default=None, metavar="FOLDER", help="put the picks into FOLDER"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--copy", dest="pick_mode", action="store_const", const="copy",
        help="--picks-to copies (default: hard links, a copy where no link can be made)",
    )  # fmt: skip
    mode.add_argument(
        "--symlink", dest="pick_mode", action="store_const", const="symlink",
        help="--picks-to makes symbolic links",
    )  # fmt: skip
    parser.set_defaults(pick_mode="link")
    add_precision_option(parser)
    add_xmp_options(parser)
    parser.add_argument(
        "--reject", action="store_true", help="with --xmp: rate the photos that are not picks -1"
    )
    parser.add_argument(
        "--similarity", type=non_negative_float, default=rule.similarity,
        help=f"fingerprint similarity that groups any two photos ({rule.similarity}; 0 = one group)",
    )  # fmt: skip
    parser.add_argument(
        "--burst-similarity", type=non_negative_float, default=rule.burst_similarity,
        help=f"similarity that groups photos taken within --time-gap ({rule.burst_similarity}; "
        "0 = any look)",
    )  # fmt: skip
    parser.add_argument(
        "--time-gap", type=non_negative_float, default=rule.time_gap,
        help=f"seconds between the capture times of a burst's frames ({rule.time_gap}; 0 = the same "
        "time only)",
    )  # fmt: skip
    parser.add_argument(
        "--model", "-m", default=None, help="model name, .safetensors model file or checkpoint"
    )
    parser.add_argument("--batch-size", type=positive_int, default=16, help="images per batch (16)")
    add_workers_option(parser, None, "min(2, CPUs) from 64 images on, else 0")
    parser.add_argument("--threads", type=thread_count, default=None, help="torch CPU threads")
    add_max_pixels_option(parser)
    add_device_option(parser)
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="name the files a folder scan leaves out"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rankiqa.cli.progress import Progress
    from rankiqa.inference.scoring.choice import load_scorer
    from rankiqa.inference.scoring.cpu import configure_cpu
    from rankiqa.inference.scoring.inputs import find_inputs, report_skipped
    from rankiqa.workflow.bursts import BurstRule
    from rankiqa.workflow.cull import CullRow, export_picks, format_cull_rows, write_cull_rows
    from rankiqa.workflow.xmp import SidecarWriter, sidecar_path

    output = output_path(args.output, "cull.csv") if args.output else None
    fmt = "table"
    if output:
        suffix = Path(output).suffix.lower()
        if suffix not in SUFFIX_FORMATS:
            raise UserError(f"--output {output}: unknown suffix {suffix!r}; use .csv, .json, "
                            ".jsonl or .txt")  # fmt: skip
        fmt = SUFFIX_FORMATS[suffix]
    if args.reject and not args.xmp:
        raise UserError("--reject needs --xmp (it sets the rating of the photos not picked)")
    rule = BurstRule(args.similarity, args.burst_similarity, args.time_gap)
    configure_cpu(args.threads)
    skipped: list[str] = []
    paths, bad = find_inputs(args.paths, recursive=args.recursive, skipped=skipped)
    model = load_scorer(
        args.model, device=args.device, threads=args.threads, precision=args.precision
    )
    workers = args.workers
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(paths) >= 64 else 0
    progress = Progress(len(paths), enabled=sys.stderr.isatty())
    from rankiqa.workflow.cull import cull

    rows = cull(
        paths, model, rule, args.batch_size, workers, max_pixels_of(args),
        progress=progress.update,
    )  # fmt: skip
    progress.close()
    rows = sorted([*rows, *(CullRow(p, None, None, False, e) for p, e in bad.items())],
                  key=lambda r: r.path)  # fmt: skip
    if output:
        write_cull_rows(output, rows, fmt)
    else:
        sys.stdout.write(format_cull_rows(rows, fmt))
        sys.stdout.flush()
    if args.xmp:
        sidecars = SidecarWriter(model_label(model, args.model), args.xmp_style)
        for row in rows:
            sidecars.write(row.path, row.score, args.reject and not row.pick,
                           Group=row.group, Pick=int(row.pick))  # fmt: skip
        sidecars.close()
    picks = [row.path for row in rows if row.pick]
    if args.picks_to:
        styles = [args.xmp_style] if args.xmp else ["darktable", "adobe"]
        done = export_picks(picks, args.picks_to, args.pick_mode,
                            sidecars=lambda p: [sidecar_path(p, s) for s in styles])  # fmt: skip
        how = ", ".join(f"{n} {k}{'s' if k != 'kept' and n != 1 else ''}" for k, n in done.items()
                        if n)  # fmt: skip
        print(f"rankiqa: {len(picks)} picks in {args.picks_to} ({how or 'nothing to do'})",
              file=sys.stderr)  # fmt: skip
    report_skipped(skipped, args.verbose)
    failed = sum(row.score is None for row in rows)
    groups = len({row.group for row in rows if row.group is not None})
    where = f"wrote {output}: " if output else ""
    errors = f", {failed} could not be read" if failed else ""
    print(f"rankiqa: {where}{len(rows)} photos in {groups} groups, {len(picks)} picks{errors}",
          file=sys.stderr)  # fmt: skip
    return 1 if failed else 0
