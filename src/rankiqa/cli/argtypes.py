"""argparse value types and option helpers shared by the subcommands.

Every numeric option is checked when the command line is parsed, so a bad value ends in one
usage line naming the option (``rankiqa train-rank: error: argument --lr: expected a finite
number > 0, got '-1'``), never in a traceback later on.

>>> positive_int("3"), fraction("0.2"), resize_or_none("none")
(3, 0.2, None)
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Callable
from typing import Any

# ----------------------------------------------------------------------------- integers


def _integer_at_least(minimum: int, text: str, what: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer ≥ 1."""
    return _integer_at_least(1, text, "a positive integer")


def non_negative_int(text: str) -> int:
    """An integer ≥ 0."""
    return _integer_at_least(0, text, "an integer >= 0")


def max_parallel() -> int:
    """The most threads or worker processes an option accepts: 4 per CPU, at least 16 (more
    only exhausts the machine; torch crashes on 100000 threads)."""
    return max(16, 4 * (os.cpu_count() or 1))


def thread_count(text: str) -> int:
    """An integer in 1..:func:`max_parallel`."""
    value = positive_int(text)
    if value > max_parallel():
        raise argparse.ArgumentTypeError(
            f"expected at most {max_parallel()} (4 per CPU), got {text!r}"
        )
    return value


def worker_count(text: str) -> int:
    """An integer in 0..:func:`max_parallel` (0 = in the main process)."""
    value = non_negative_int(text)
    if value > max_parallel():
        raise argparse.ArgumentTypeError(
            f"expected at most {max_parallel()} (4 per CPU), got {text!r}"
        )
    return value


# ----------------------------------------------------------------------------- floats


def _finite(text: str, what: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, margins, multipliers)."""
    value = _finite(text, "a finite number > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number ≥ 0 (weight decay)."""
    value = _finite(text, "a finite number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def score_bound(text: str) -> float:
    """A score in [0, 100], the range every model's scores lie in (``--min-score``).

    >>> score_bound("60")
    60.0
    """
    value = _finite(text, "a score in [0, 100]")
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(
            f"expected a score in [0, 100] (scores lie in that range), got {text!r}"
        )
    return value


def fraction(text: str) -> float:
    """A number strictly between 0 and 1 (held-out shares)."""
    value = _finite(text, "a fraction between 0 and 1 (exclusive)")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a fraction between 0 and 1 (exclusive), got {text!r}"
        )
    return value


def fraction_or_one(text: str) -> float:
    """A number in (0, 1] (a share where 1 means "all").

    >>> fraction_or_one("1"), fraction_or_one("0.75")
    (1.0, 0.75)
    """
    value = _finite(text, "a fraction in (0, 1]")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}")
    return value


def fraction_or_zero(text: str) -> float:
    """A number in [0, 1) (a held-out share where 0 means "none")."""
    value = _finite(text, "a fraction in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def probability(text: str) -> float:
    """A number in [0, 1) (momentum, dropout)."""
    value = _finite(text, "a number in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def decay_factor(text: str) -> float:
    """A number in (0, 1] (learning-rate decay factors; 1 = no decay)."""
    value = _finite(text, "a number in (0, 1]")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


# ----------------------------------------------------------------------------- other values

#: the largest crop or resize side accepted (a 100000-pixel crop would ask for 120 GB)
MAX_SIDE = 8192


def json_object_file(path: str | None, option: str) -> dict:
    """The JSON object in file ``path`` (``{}`` for ``None``); :class:`UserError` naming
    ``option`` when the file is missing, not JSON or not an object."""
    import json
    from pathlib import Path

    from rankiqa.core.errors import UserError

    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{option}: {path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{option}: {path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{option}: {path}: expected a JSON object")
    return data


def image_side(text: str) -> int:
    """A crop or resize side in pixels: an integer in 1..:data:`MAX_SIDE`."""
    value = positive_int(text)
    if value > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_SIDE} pixels, got {text!r}")
    return value


def resize_or_none(text: str) -> int | None:
    """A shorter-side size (integer in 1..:data:`MAX_SIDE`) or ``none`` / ``native``."""
    if str(text).strip().lower() in ("none", "native", "null"):
        return None
    try:
        return image_side(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer up to {MAX_SIDE} or 'none', got {text!r}"
        ) from None


def pooling(text: str) -> str:
    """A test-time pooling: ``crops:N`` (or just ``N``), ``grid``, ``grid:K``, ``center``, ``full``."""
    from rankiqa.core.errors import UserError
    from rankiqa.core.preprocess import POOLING_HELP, parse_pooling

    try:
        return parse_pooling(text)
    except UserError:
        raise argparse.ArgumentTypeError(f"expected {POOLING_HELP}, got {text!r}") from None


def shard(text: str) -> tuple[int, int]:
    """``I/N`` with 1 ≤ I ≤ N."""
    index, sep, count = str(text).partition("/")
    if sep and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count):
        return int(index), int(count)
    raise argparse.ArgumentTypeError(f"expected I/N with 1 <= I <= N (e.g. 2/8), got {text!r}")


def resume_mode(text: str) -> str:
    """``--resume`` value: ``auto`` (continue if the run exists, else start) or ``yes``."""
    value = str(text).strip().lower()
    if value in ("auto", "yes"):
        return value
    raise argparse.ArgumentTypeError(f"expected 'auto' (or no value), got {text!r}")


# ----------------------------------------------------------------------------- shared options

DEVICE_HELP = "torch device: cpu, cuda, cuda:N, mps (default: cuda if available, else cpu)"
WORKERS_HELP = "processes (or threads) that decode images; 0 = in the main process"


def add_device_option(parser: Any) -> None:
    """``--device`` with the same meaning and default (auto) in every subcommand."""
    parser.add_argument("--device", default=None, help=DEVICE_HELP)


PRECISION_HELP = (
    "what the network computes in: auto (the model's int8 graph where it is shipped and "
    "passed its accuracy check, else fp32), fp32 or int8 (default: auto)"
)


def add_precision_option(parser: Any) -> None:
    """``--precision auto|fp32|int8`` with the same meaning in score, map and report."""
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "int8"), default="auto", help=PRECISION_HELP
    )


def add_workers_option(
    parser: Any, default: int | None = None, default_text: str = "%(default)s"
) -> None:
    """``--workers N`` (N ≥ 0; 0 = decode in the main process)."""
    parser.add_argument(
        "--workers",
        type=worker_count,
        default=default,
        metavar="N",
        help=f"{WORKERS_HELP} (default: {default_text})",
    )


def add_resume_option(parser: Any, what: str = "the run in --out") -> None:
    """``--resume`` (continue, the checkpoint must exist) or ``--resume auto`` (continue if
    there is a checkpoint, else start a fresh run): the value is ``None``, ``yes`` or ``auto``."""
    parser.add_argument(
        "--resume",
        nargs="?",
        const="yes",
        default=None,
        type=resume_mode,
        metavar="auto",
        help=f"continue {what} from checkpoint.pt; '--resume auto' also starts it when there "
        "is none yet",
    )


def defaults_from(
    parser: argparse.ArgumentParser, config: type, skip: tuple[str, ...] = ()
) -> None:
    """Give every option of ``parser`` whose ``dest`` is a field of the dataclass ``config``
    that field's default: options' defaults are written once, in the config (help texts show
    them with ``%(default)s``). ``skip``: fields whose option means something else.

    >>> @dataclasses.dataclass
    ... class Config:
    ...     iters: int = 100
    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--iters", type=int, help="default %(default)s")
    >>> defaults_from(parser, Config)
    >>> parser.parse_args([]).iters
    100
    """
    fields = {
        f.name: f.default
        for f in dataclasses.fields(config)
        if f.default is not dataclasses.MISSING and f.name not in skip
    }
    parser.set_defaults(
        **{
            action.dest: fields[action.dest]
            for action in parser._actions
            if action.dest in fields and action.default is not argparse.SUPPRESS
        }
    )


def config_from(config: type, args: argparse.Namespace, **overrides: Any) -> Any:
    """The dataclass ``config`` built from the parsed options named like its fields, then
    ``overrides`` (for options that do not map one to one)."""
    values = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(config) if hasattr(args, f.name)
    }
    return config(**{**values, **overrides})


def resume_flag(value: str | None) -> bool | str:
    """``--resume`` as the training functions take it: ``False``, ``True`` or ``"auto"``."""
    return {"yes": True, "auto": "auto"}.get(value or "", False)


class DeprecatedAlias(argparse.Action):
    """An old option spelling kept for one release: stores like the new one, with a warning."""

    def __init__(self, option_strings, dest, new: str, store_const: Any = None, **kwargs):
        self.new = new
        self.store_const = store_const
        if store_const is not None:
            kwargs["nargs"] = 0
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(
            f"rankiqa: warning: {option_string} is deprecated; use {self.new}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, self.store_const if self.store_const is not None else values)


def add_deprecated_alias(
    parser: Any,
    old: str,
    new: str,
    dest: str,
    type: Callable[[str], Any] | None = None,
    store_const: Any = None,
) -> None:
    """Accept ``old`` (hidden from ``--help``) as a deprecated spelling of option ``new``."""
    parser.add_argument(
        old,
        dest=dest,
        action=DeprecatedAlias,
        new=new,
        type=type,
        store_const=store_const,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )


MAX_PIXELS_HELP = (
    "refuse images with more pixels (decompression bombs); Pillow's own limit follows it "
    "(default 89478485, about 89.5 megapixels: a 100 MP photo needs --max-pixels 120000000)"
)


def add_max_pixels_option(parser: Any) -> None:
    """``--max-pixels P``: the decoding limit, the same default in every subcommand."""
    parser.add_argument(
        "--max-pixels", type=positive_int, default=None, metavar="P", help=MAX_PIXELS_HELP
    )


def max_pixels_of(args: argparse.Namespace) -> int:
    """``--max-pixels`` with its default applied."""
    from rankiqa.core.imageio import DEFAULT_MAX_PIXELS

    return getattr(args, "max_pixels", None) or DEFAULT_MAX_PIXELS


def output_path(value: str | os.PathLike, default_name: str) -> str:
    """``--output`` as a file: a folder (an existing one, or a name ending in ``/``) gets
    ``default_name`` inside it, so ``-o out/`` writes ``out/scores.csv``.

    >>> output_path("out/", "scores.csv"), output_path("a.csv", "scores.csv")
    ('out/scores.csv', 'a.csv')
    """
    text = os.fspath(value)
    if text.endswith(("/", os.sep)) or os.path.isdir(text):
        return os.path.join(text, default_name)
    return text
