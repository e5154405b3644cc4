"""The ``rankiqa`` command: a thin argparse front end over the library API.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Modules import heavy libraries (torch) inside ``run`` so that
``rankiqa --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from rankiqa.core.errors import UserError, torch_missing
from rankiqa.core.interrupts import terminate_raises
from rankiqa.core.version import __version__

#: one-line help of each subcommand for ``rankiqa --help``, which imports no subcommand module
#: (some build their options from torch-based config classes); a test keeps it equal to the
#: help each module gives
SUMMARIES: dict[str, str] = {
    "score": "score the quality of images",
    "cull": "group bursts and near-duplicates; pick the best photo of each",
    "map": "per-region quality maps of images",
    "report": "a browsable HTML page of images sorted by quality",
    "distort": "generate a ranked set of distorted images (RankIQA stage 0)",
    "train-rank": "train a ranking network on a ranked set (RankIQA stage 1)",
    "datasets": "list IQA datasets with their expected layout; check one; write split files",
    "finetune": "fine-tune a network on an IQA dataset's opinion scores (RankIQA+FT)",
    "features": "cache frozen-backbone features of a dataset or ranked set (for train-head)",
    "train-head": "train a stats head on cached frozen features (MOS + ranking); writes a model file",
    "ensemble": "join models trained on one --cut cache into one (their prediction ensemble)",
    "evaluate": "evaluate a model on an IQA dataset: SROCC, KROCC, PLCC, RMSE (raw and "
    "logistic-fitted)",
    "compare": "compare two runs' predictions of the same photos (paired bootstrap)",
    "export": "convert checkpoints to model files, models to ONNX",
}

#: subcommand name -> module under rankiqa.cli, in the order ``rankiqa --help`` lists them:
#: the everyday commands first, then the training pipeline
SUBCOMMANDS: dict[str, str] = {
    "score": "score",
    "cull": "cull",
    "map": "map",
    "report": "report",
    "distort": "distort",
    "train-rank": "train_rank",
    "datasets": "datasets",
    "finetune": "finetune",
    "features": "features",
    "train-head": "train_head",
    "ensemble": "ensemble",
    "evaluate": "evaluate",
    "compare": "compare",
    "export": "export",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``rankiqa`` parser; with ``only``, just that subcommand's module is imported (the
    others are listed by name and summary), so ``rankiqa score`` never imports what
    ``rankiqa finetune`` needs. ``only=""``: no subcommand module at all (``--help``)."""
    parser = argparse.ArgumentParser(
        prog="rankiqa",
        description="No-reference image quality assessment that learns from rankings (RankIQA).",
    )
    parser.add_argument("--version", action="version", version=f"rankiqa {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        if only is not None and name != only:
            subparsers.add_parser(name, help=SUMMARIES[name], add_help=False)
            continue
        try:
            module = importlib.import_module(f"rankiqa.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"rankiqa.cli.{module_name}":
                continue  # subcommand not built yet
            raise
        module.add_parser(subparsers)
    return parser


def subcommand_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``name`` inside the top-level ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


def _command_of(argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` ("" if none comes before the first option value)."""
    for item in argv:
        if item in SUBCOMMANDS:
            return item
        if not item.startswith("-"):
            return ""
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(argv)
    try:
        return _main(argv, command)
    except ModuleNotFoundError as exc:  # the light install: what needs torch says so, once
        missing = torch_missing(exc, f"rankiqa {command}" if command else "this")
        if missing is None:
            raise
        print(f"rankiqa: error: {missing}", file=sys.stderr)
        return 2


def _main(argv: list[str], command: str) -> int:
    parser = build_parser(only=command)
    args, extras = parser.parse_known_args(argv)
    if extras:  # report an unknown option with the subcommand's usage, not the top level's
        target = subcommand_parser(parser, args.command) if args.command else parser
        target.error(f"unrecognized arguments: {' '.join(extras)}")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with terminate_raises():  # kill (SIGTERM) ends like Ctrl-C: one line, exit 143
            return int(args.run(args) or 0)
    except UserError as exc:
        if os.environ.get("RANK", "0") in ("", "0"):  # under torchrun: one message, not one each
            print(f"rankiqa: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rankiqa score DIR | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
        return 141
    except KeyboardInterrupt as exc:  # Ctrl-C, or Interrupted (SIGTERM)
        print(f"rankiqa: {str(exc) or 'interrupted'}", file=sys.stderr)
        return getattr(exc, "exit_code", 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
