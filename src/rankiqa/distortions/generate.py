"""Write a ranked set: every image under SRC at every level of every group of a preset.

Layout: :mod:`rankiqa.core.ranked_format` (docs/contracts.md, contract 1).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import signal
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.core.files import atomic_path, write_text_atomic
from rankiqa.core.imageio import find_images, image_extensions, read_image
from rankiqa.core.ranked_format import MANIFEST, PRESET, PRISTINE, image_name, write_manifest
from rankiqa.distortions import get_preset
from rankiqa.distortions.combined import CombinedDistortion

#: Smallest image side accepted (pixels).
MIN_SIDE = 32
#: zlib level of the written PNGs (lossless at any level; 1 is fast).
PNG_COMPRESS_LEVEL = 1


@dataclass
class GenerateResult:
    """Outcome of :func:`generate_ranked_set`."""

    manifest: Path
    references: int = 0
    written: int = 0
    skipped: int = 0
    rows: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def level_rng(seed: int, reference: str, group: str, level: int) -> np.random.Generator:
    """The generator for one (reference, group, level): independent of worker count and order."""
    key = [int(seed), zlib.crc32(reference.encode("utf-8")), zlib.crc32(group.encode()), level]
    return np.random.default_rng(key)


def version_rng(
    seed: int, reference: str, group: str, level: int, distortion: object
) -> np.random.Generator:
    """The generator of one version: :func:`level_rng`, except that the levels of a
    :class:`~rankiqa.distortions.combined.CombinedDistortion` share the generator of level 0
    (common random numbers: the same noise field at every level of a reference's grid)."""
    shared = isinstance(distortion, CombinedDistortion)
    return level_rng(seed, reference, group, 0 if shared else level)


def resize_max_side(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Downsize (area interpolation) so the longer side is at most ``max_side``."""
    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image
    import cv2

    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def save_png(image: np.ndarray, target: Path) -> None:
    """Write ``image`` losslessly to ``target`` via a temporary file and a rename."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    with atomic_path(target) as tmp:
        tmp.write_bytes(buf.getvalue())


def _targets(preset: str, reference: str) -> list[tuple[str, str, int]]:
    """(relative path, group, level) of every file of one reference, pristine first."""
    items = [(image_name(reference, PRISTINE, 0), PRISTINE, 0)]
    for group, distortion in get_preset(preset).items():
        for level in range(1, distortion.num_levels + 1):
            items.append((image_name(reference, group, level), group, level))
    return items


def process_reference(
    source: str,
    out: str,
    reference: str,
    preset: str,
    seed: int,
    max_side: int | None,
    orphaned: Callable[[], bool] = lambda: False,
) -> tuple[str, list[tuple[str, str, str, int]], int, int, str | None]:
    """Write the missing files of one reference; decode the source only if something is missing.

    Returns ``(reference, rows, written, skipped, error)``; ``error`` is a message or ``None``.
    ``orphaned()`` is checked before each image so a worker whose parent died stops early.
    """
    out_dir = Path(out)
    targets = _targets(preset, reference)
    rows = [(path, reference, group, level) for path, group, level in targets]
    missing = [t for t in targets if not (out_dir / t[0]).is_file()]
    if not missing:
        return reference, rows, 0, len(targets), None
    try:
        image = read_image(source)
    except UserError as exc:
        return reference, [], 0, 0, str(exc)
    if min(image.shape[:2]) < MIN_SIDE:
        return reference, [], 0, 0, f"{source}: smaller than {MIN_SIDE} px on a side"
    image = resize_max_side(image, max_side)
    groups = get_preset(preset)
    written = 0
    for path, group, level in missing:
        if orphaned():
            raise SystemExit(1)
        if group == PRISTINE:
            version = image
        else:
            distortion = groups[group]
            version = distortion(
                image, level, version_rng(seed, reference, group, level, distortion)
            )
        save_png(version, out_dir / path)
        written += 1
    return reference, rows, written, len(targets) - written, None


_PARENT_PID: int | None = None


def _orphaned() -> bool:
    return os.getppid() != _PARENT_PID


def _process_job(job: tuple) -> tuple:
    return process_reference(*job, orphaned=_orphaned)


def _init_worker(parent: int) -> None:
    import cv2

    global _PARENT_PID
    _PARENT_PID = parent
    cv2.setNumThreads(1)  # one process per core: no nested OpenCV thread pools
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only) so workers get terminated."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _remove_stale_temporaries(out: Path) -> None:
    """Delete temporaries (``.<name>.<random>.tmp``) left by a killed run."""
    for tmp in out.rglob(".*.tmp"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)


def _check_settings(out: Path, settings: dict) -> None:
    path = out / PRESET
    if not path.is_file():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable ({exc}); remove it or choose another OUT") from None
    keys = ("preset", "seed", "max_side")
    if any(previous.get(k) != settings[k] for k in keys):
        old = ", ".join(f"{k}={previous.get(k)!r}" for k in keys)
        raise UserError(
            f"{out}: already holds a set made with {old}; use the same options to resume "
            "or choose another OUT"
        )
    if previous.get("groups") != json.loads(json.dumps(settings["groups"])):
        raise UserError(
            f"{out}: already holds a set made with other distortion parameters (rankiqa "
            f"{previous.get('rankiqa_version', '?')}); choose another OUT"
        )


def find_sources(src: Path, out: Path) -> list[tuple[Path, str]]:
    """(path, reference) of every image under ``src`` (outside ``out``), sorted."""
    if not src.exists():
        raise UserError(f"{src}: no such directory")
    if not src.is_dir():
        raise UserError(f"{src}: not a directory")
    out_resolved = out.resolve()
    sources = []
    seen: dict[str, Path] = {}
    for path in find_images(src):
        if out_resolved in path.resolve().parents:
            continue
        reference = path.relative_to(src).with_suffix("").as_posix()
        if reference in seen:
            raise UserError(
                f"{path} and {seen[reference]} give the same reference name {reference!r}; "
                "rename one of them"
            )
        seen[reference] = path
        sources.append((path, reference))
    if not sources:
        exts = ", ".join(image_extensions())
        raise UserError(f"{src}: no images found (looked for {exts})")
    return sources


def generate_ranked_set(
    src: str | os.PathLike,
    out: str | os.PathLike,
    preset: str = "live",
    workers: int | None = None,
    seed: int = 0,
    max_side: int | None = None,
    progress: bool = True,
) -> GenerateResult:
    """Distort every image under ``src`` with ``preset`` into ``out`` (resumable, parallel).

    Existing files are kept, so rerunning finishes an interrupted run. Unreadable images are
    recorded in ``result.failed`` and left out of the manifest.
    """
    try:
        groups = get_preset(preset)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    if max_side is not None and max_side < MIN_SIDE:
        raise UserError(f"--max-side must be at least {MIN_SIDE}, got {max_side}")
    src, out = Path(src), Path(out)
    sources = find_sources(src, out)
    settings = {
        "preset": preset,
        "seed": int(seed),
        "max_side": max_side,
        "groups": {name: d.describe() for name, d in groups.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings)
    from rankiqa.core.version import __version__

    write_text_atomic(
        out / PRESET, json.dumps({**settings, "rankiqa_version": __version__}, indent=2)
    )
    _remove_stale_temporaries(out)

    workers = max(1, int(os.cpu_count() or 1 if workers is None else workers))  # 0, 1: inline
    result = GenerateResult(manifest=out / MANIFEST, references=len(sources))
    rows: list[tuple[str, str, str, int]] = []
    jobs = [(str(p), str(out), ref, preset, int(seed), max_side) for p, ref in sources]

    from tqdm import tqdm

    bar = tqdm(
        total=len(jobs), unit="ref", desc=f"distort {preset}", disable=None if progress else True
    )

    def collect(outcome: tuple) -> None:
        reference, ref_rows, written, skipped, error = outcome
        if error is not None:
            result.failed.append((reference, error))  # reported once, by the caller
        rows.extend(ref_rows)
        result.written += written
        result.skipped += skipped
        bar.update(1)

    # References already complete are only listed (cheap); the rest are distorted.
    pending = []
    for job in jobs:
        if all((out / path).is_file() for path, _, _ in _targets(preset, job[2])):
            collect(process_reference(*job))
        else:
            pending.append(job)
    workers = min(workers, len(pending))
    try:
        if workers <= 1:
            import cv2

            previous = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                for job in pending:
                    collect(process_reference(*job))
            finally:
                cv2.setNumThreads(previous)
        else:
            # Pool's context exit terminates the workers, so Ctrl-C stops at once; a file being
            # written is only a temporary, removed by the next run.
            with (
                _sigterm_as_interrupt(),
                multiprocessing.Pool(workers, _init_worker, (os.getpid(),)) as pool,
            ):
                for outcome in pool.imap_unordered(_process_job, pending):
                    collect(outcome)
    finally:
        bar.close()

    write_manifest(out, rows)
    result.rows = len(rows)
    result.failed.sort()
    return result
