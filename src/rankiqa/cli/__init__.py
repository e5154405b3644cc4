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

from rankiqa.core.errors import UserError
from rankiqa.core.version import __version__

#: subcommand name -> module under rankiqa.cli
SUBCOMMANDS: dict[str, str] = {
    "distort": "distort",
    "train-rank": "train_rank",
    "datasets": "datasets",
    "finetune": "finetune",
    "features": "features",
    "train-head": "train_head",
    "evaluate": "evaluate",
    "score": "score",
    "export": "export",
    "map": "map",
    "report": "report",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankiqa",
        description="No-reference image quality assessment that learns from rankings (RankIQA).",
    )
    parser.add_argument("--version", action="version", version=f"rankiqa {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMANDS.values():
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # report an unknown option with the subcommand's usage, not the top level's
        target = subcommand_parser(parser, args.command) if args.command else parser
        target.error(f"unrecognized arguments: {' '.join(extras)}")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        if os.environ.get("RANK", "0") in ("", "0"):  # under torchrun: one message, not one each
            print(f"rankiqa: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rankiqa score DIR | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
        return 141
    except KeyboardInterrupt:
        print("rankiqa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
