"""Which files to score: expanding files, folders and globs; deterministic shards."""

from __future__ import annotations

import glob
import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from rankiqa.core.errors import UserError
from rankiqa.core.imageio import (
    UNSUPPORTED_PHOTO_EXTENSIONS,
    is_image_name,
    scan_folder,
    skip_reason,
)

_GLOB_CHARS = set("*?[")


def path_key(path: str | os.PathLike) -> str:
    """The file a path names, for de-duplication: absolute, symlinks and ``..`` resolved."""
    return os.path.normcase(os.path.realpath(path))


def find_inputs(
    items: Sequence[str | os.PathLike],
    recursive: bool = False,
    skipped: list[str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Files to score and the arguments that cannot be scored: ``(paths, {item: reason})``.

    A folder contributes its image files (sub-folders with ``recursive``); a glob pattern
    (``*``, ``?``, ``[``; ``**`` with ``recursive``) its matching image files; any other path
    is taken as given (a non-image file then fails when decoded). An empty folder, a pattern
    without matches, a broken symbolic link or a missing path goes to the second result with
    its reason, so a caller can report it as an error row and go on. Paths naming the same file
    (``a.png``, ``./a.png``, ``sub/../a.png``) count once, under the spelling given first.
    ``skipped``, if given, receives the files that folders and patterns hold but that are not
    images we decode (RAW, HEIC, text, ...), sorted: see :func:`report_skipped`.

    >>> find_inputs(["no/such/file.jpg"])
    ([], {'no/such/file.jpg': 'no such file or folder'})
    """
    paths: list[str] = []
    errors: dict[str, str] = {}
    seen: set[str] = set()

    def add(path: str) -> None:
        key = path_key(path)
        if key not in seen:
            seen.add(key)
            paths.append(path)

    for item in items:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            images, others = scan_folder(path, recursive=recursive)
            if skipped is not None:
                skipped.extend(str(p) for p in others)
                if not recursive:  # images in sub-folders: skipped too, and said so
                    nested = scan_folder(path, recursive=True)[0]
                    skipped.extend(str(p) for p in nested if p.parent != path)
            if not images:
                hint = "" if recursive else " (add --recursive for sub-folders)"
                errors.setdefault(text, f"folder contains no image files{hint}")
            for image in images:
                add(str(image))
        elif path.is_symlink() and not path.exists():
            errors.setdefault(text, f"broken symbolic link (to {os.readlink(path)})")
        elif not path.exists() and _GLOB_CHARS & set(text):
            files = [m for m in sorted(glob.glob(text, recursive=recursive)) if os.path.isfile(m)]
            matches = [m for m in files if is_image_name(m)]
            if skipped is not None:
                skipped.extend(m for m in files if not is_image_name(m))
            if not matches:
                errors.setdefault(text, "pattern matches no image files")
            for match in matches:
                add(match)
        elif not path.exists():
            errors.setdefault(text, "no such file or folder")
        elif not path.is_file():  # a FIFO or device would block the decoder
            errors.setdefault(text, "not a regular file")
        else:
            add(text)
    if skipped is not None:
        skipped[:] = sorted(set(skipped))
    return sorted(paths), errors


def report_skipped(skipped: Sequence[str], verbose: bool = False, stream: IO[str] | None = None):
    """Say on stderr what folder scans left out: a count (and with ``verbose`` each file and
    why, e.g. "camera RAW files (.CR2) are not supported"). Nothing when nothing was skipped."""
    if not skipped:
        return
    stream = stream or sys.stderr
    if verbose:
        for path in skipped:
            why = "in a sub-folder (add -r)" if is_image_name(path) else skip_reason(path)
            print(f"rankiqa: skipped {path}: {why}", file=stream)
    photos = [p for p in skipped if Path(p).suffix.lower() in UNSUPPORTED_PHOTO_EXTENSIONS]
    nested = [p for p in skipped if is_image_name(p)]  # images in sub-folders, without -r
    others = [p for p in skipped if p not in set(photos) | set(nested)]
    parts = []
    if nested:
        noun = "image" if len(nested) == 1 else "images"
        parts.append(f"{len(nested)} {noun} in sub-folders (not searched: add -r / --recursive)")
    if photos:
        noun = "photo" if len(photos) == 1 else "photos"
        parts.append(f"{len(photos)} RAW/HEIF {noun} (not supported: {_suffixes(photos)})")
    if others:
        noun = "file" if len(others) == 1 else "files"
        parts.append(f"{len(others)} other {noun} ({_suffixes(others)})")
    hint = "" if verbose else "; --verbose names them"
    noun = "file" if len(skipped) == 1 else "files"
    print(f"rankiqa: skipped {len(skipped)} {noun}: {', '.join(parts)}{hint}", file=stream)


def _suffixes(paths: Sequence[str]) -> str:
    return ", ".join(sorted({Path(p).suffix.lower() or "no suffix" for p in paths}))


def expand_inputs(
    items: Sequence[str | os.PathLike],
    recursive: bool = False,
    skipped: list[str] | None = None,
) -> list[str]:
    """Files to score, sorted and without duplicates (see :func:`find_inputs`, also for
    ``skipped``).

    Arguments that cannot be scored (empty folder, pattern without matches, broken link,
    missing file) stay in the list as given, so scoring them yields an error row.
    """
    paths, errors = find_inputs(items, recursive, skipped)
    return sorted([*paths, *errors])


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
