"""``rankiqa report``: one self-contained HTML page to browse images by quality."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rankiqa.cli.argtypes import (
    add_device_option,
    add_max_pixels_option,
    add_precision_option,
    max_pixels_of,
    output_path,
    thread_count,
)
from rankiqa.cli.workflow_options import add_filter_options

DESCRIPTION = """\
Write one HTML file that shows images sorted by quality score, with the score histogram,
a score-range filter and pages of thumbnails; it opens in any browser, offline.
Thumbnails are embedded (small JPEGs) or, with --link, loaded from the image files relative
to the page. --from reuses a scores CSV of 'rankiqa score' (path,score,error) instead of
scoring again; its relative paths are read relative to its own folder; PATHs not in it
are scored. --min-score/--max-score show only the images in range; --list FILE also writes
their paths, one a line, in the order the page opens with. --maps adds each image's quality map (hover or
click a thumbnail; the page shows the maps' colour legend). Files that cannot be read are
listed on the page; the exit code is then 1. Files a folder scan leaves out (RAW, HEIC, text,
...) are counted on stderr (--verbose: named). --output FOLDER/ writes FOLDER/report.html.
The page is written atomically."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="a browsable HTML page of images sorted by quality",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="image files, folders, globs")
    parser.add_argument(
        "--output",
        "-o",
        default="report.html",
        metavar="FILE",
        help="the .html file to write (report.html); FOLDER/ writes FOLDER/report.html",
    )
    parser.add_argument(
        "--from",
        dest="scores",
        default=None,
        metavar="SCORES.csv",
        help="scores CSV from 'rankiqa score -o scores.csv' (no re-scoring)",
    )
    add_filter_options(parser, sort=False)
    parser.add_argument(
        "--list", default=None, metavar="FILE", help="also write the shown paths, one a line"
    )
    parser.add_argument("--maps", action="store_true", help="add per-region quality maps")
    parser.add_argument(
        "--link", action="store_true", help="link the image files (relative) instead of embedding"
    )
    parser.add_argument("--worst-first", action="store_true", help="open sorted worst first")
    parser.add_argument("--title", default=None, help="page title")
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


def run(args: argparse.Namespace) -> int:
    from rankiqa.cli.progress import Progress
    from rankiqa.core.errors import UserError
    from rankiqa.core.files import write_text_atomic
    from rankiqa.inference.scoring.cpu import configure_cpu
    from rankiqa.inference.scoring.inputs import expand_inputs, report_skipped
    from rankiqa.report.html import make_report, read_scores_csv
    from rankiqa.workflow.filters import ScoreRange, sort_rows

    output = Path(output_path(args.output, "report.html"))
    if output.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"--output {output}: must be an .html file")
    if not args.paths and not args.scores:
        raise UserError("give image PATHs or --from scores.csv")
    configure_cpu(args.threads)
    skipped: list[str] = []
    paths = expand_inputs(args.paths, args.recursive, skipped) if args.paths else []
    known = {row.path for row in read_scores_csv(args.scores)} if args.scores else set()
    model = None
    if args.maps or any(p not in known for p in paths):
        from rankiqa.inference.scoring.choice import load_scorer

        model = load_scorer(
            args.model, device=args.device, threads=args.threads, precision=args.precision
        )
    total = len(known | set(paths))
    progress = Progress(total, enabled=sys.stderr.isatty())
    rows = make_report(
        output,
        paths,
        model=model,
        scores_csv=args.scores,
        maps=args.maps,
        link=args.link,
        worst_first=args.worst_first,
        title=args.title,
        progress=lambda _row: progress.update(),
        max_pixels=max_pixels_of(args),
        keep=ScoreRange(args.min_score, args.max_score).keeps,
    )
    progress.close()
    if args.list:
        shown = sort_rows(rows, "score")
        if args.worst_first:
            shown = [*reversed([r for r in shown if r.score is not None])] + [
                r for r in shown if r.score is None
            ]
        write_text_atomic(args.list, "".join(f"{r.path}\n" for r in shown))
    if args.scores:
        missing = [r for r in rows if r.score is not None and not Path(r.path).exists()]
        if missing and len(missing) == sum(r.score is not None for r in rows):
            raise UserError(
                f"{args.scores}: none of its {len(missing)} images found (relative paths are "
                f"read relative to its folder, e.g. {missing[0].path}); {output} has no pictures"
            )
        if missing:
            print(
                f"rankiqa: {len(missing)} of the images in {args.scores} not found (e.g. "
                f"{missing[0].path}); their cards show no picture",
                file=sys.stderr,
            )
    report_skipped(skipped, args.verbose)
    failed = sum(row.score is None for row in rows)
    errors = f", {failed} error{'s' if failed != 1 else ''}" if failed else ""
    scored = len(rows) - failed
    print(f"wrote {output}: {scored} image{'s' if scored != 1 else ''}{errors}")
    return 1 if failed else 0
