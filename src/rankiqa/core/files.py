"""Atomic file writing: a temporary file next to the target, renamed onto it on success."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_bytes_atomic", "write_json", "write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` if the block succeeds.

    A killed or failing writer therefore never leaves a half-written ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp's 0600 -> the usual new-file mode
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (temporary file, then rename)."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def write_json(path: str | os.PathLike, data: object) -> None:
    """Write ``data`` as indented JSON (sorted keys), atomically.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "run.json"
    >>> write_json(target, {"b": 1, "a": [2]})
    >>> json.loads(target.read_text())
    {'a': [2], 'b': 1}
    """
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def cache_dir() -> Path:
    """Folder of derived files (exported and optimised ONNX graphs): ``$RANKIQA_CACHE``, else
    ``$XDG_CACHE_HOME/rankiqa``, else ``~/.cache/rankiqa``. Not created here."""
    if os.environ.get("RANKIQA_CACHE"):
        return Path(os.environ["RANKIQA_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rankiqa"
