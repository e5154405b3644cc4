"""Which files to score: expanding files, folders and globs; deterministic shards."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from rankiqa.errors import UserError
from rankiqa.imageio import find_images

_GLOB_CHARS = set("*?[")


def expand_inputs(items: Sequence[str | os.PathLike], recursive: bool = False) -> list[str]:
    """Files to score, sorted and without duplicates.

    A folder contributes its image files (by extension; sub-folders with ``recursive``); a glob
    pattern (``*``, ``?``, ``[``; ``**`` with ``recursive``) its matching image files; any other
    path is taken as given, so a missing or non-image file becomes an error row. A folder or
    glob without images is a :class:`UserError`.
    """
    found: set[str] = set()
    for item in items:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            images = find_images(path, recursive=recursive)
            if not images:
                raise UserError(f"{text}: folder contains no image files")
            found.update(str(p) for p in images)
        elif not path.exists() and _GLOB_CHARS & set(text):
            from rankiqa.imageio import IMAGE_EXTENSIONS

            matches = [
                m
                for m in glob.glob(text, recursive=recursive)
                if os.path.isfile(m) and Path(m).suffix.lower() in IMAGE_EXTENSIONS
            ]
            if not matches:
                raise UserError(f"{text}: pattern matches no image files")
            found.update(matches)
        else:
            found.add(text)
    return sorted(found)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (1 <= I <= N) -> (I, N)."""
    index, sep, count = text.partition("/")
    if sep and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count):
        return int(index), int(count)
    raise UserError(f"--shard: expected I/N with 1 <= I <= N (e.g. 2/8), got {text!r}")


def shard_of(path: str, count: int) -> int:
    """The shard (1..count) of a path: a stable hash of the path string, the same on every
    machine and independent of which other files are listed."""
    digest = hashlib.sha1(path.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(paths: Sequence[str], index: int, count: int) -> list[str]:
    """The paths of shard ``index`` of ``count``; the shards partition ``paths`` exactly."""
    return [p for p in paths if shard_of(p, count) == index]
