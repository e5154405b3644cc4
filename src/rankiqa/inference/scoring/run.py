"""A scoring run, the library form of ``rankiqa score``: which files (paths, folders, globs),
which shard, what an earlier output already holds (resume), how many workers, which engine.

The command line parses options into a :class:`ScoringRun` and writes its rows; Python code
uses it the same way.

Examples
--------
>>> import numpy as np, tempfile
>>> from pathlib import Path
>>> from PIL import Image
>>> folder = Path(tempfile.mkdtemp())
>>> for i in range(3):
...     Image.fromarray(np.full((64, 96, 3), 60 * i, np.uint8)).save(folder / f"{i}.png")
>>> run = ScoringRun([folder])
>>> rows = list(run.rows())
>>> len(rows), all(0 <= row.score <= 100 for row in rows)
(3, True)
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rankiqa.core.imageio import DEFAULT_MAX_PIXELS
from rankiqa.inference.model.rows import ScoredImage
from rankiqa.inference.model.scorer import Scorer
from rankiqa.inference.scoring.batch import iter_scores
from rankiqa.inference.scoring.choice import scorer_of
from rankiqa.inference.scoring.cpu import configure_cpu
from rankiqa.inference.scoring.inputs import find_inputs, path_key, select_shard
from rankiqa.inference.scoring.results import completed_paths

#: with ``workers=None``, smaller jobs decode in this process (no worker start-up, ~0.5 s)
AUTO_WORKERS_MIN_IMAGES = 64

#: what scores the files: ``iter_scores``' signature (the local engine, or
#: :func:`rankiqa.integrations.ray.ray_engine`'s Ray actor pool)
Engine = Callable[..., Iterator[ScoredImage]]


def auto_workers(requested: int | None, count: int) -> int:
    """Worker processes for ``count`` files: ``requested`` (at most one per file beyond the
    first), or with ``None`` min(2, CPUs) from :data:`AUTO_WORKERS_MIN_IMAGES` files on."""
    if requested is None:
        return min(2, os.cpu_count() or 1) if count >= AUTO_WORKERS_MIN_IMAGES else 0
    return min(requested, max(0, count - 1))


class ScoringRun:
    """The files to score and how; :meth:`rows` scores them.

    Parameters
    ----------
    inputs
        Image files, folders (``recursive`` for sub-folders) and glob patterns.
    model
        A model (:func:`rankiqa.load_model`) or anything it accepts; by name or path, the
        packaged models run on ONNX Runtime (no torch) as in ``rankiqa score``.
    shard
        ``(index, count)``: only the deterministic 1/count of the files numbered ``index``.
    resume
        ``(output file, format)`` of an earlier run (csv or jsonl): its paths are left out.
    workers
        Worker processes (``None``: :func:`auto_workers`).
    batch_size, max_pixels, exact_decode
        As in ``rankiqa score`` (images per batch, decompression-bomb limit, full JPEG decode).
    device, runtime, threads, precision
        How a model given by name or path is loaded (:func:`load_scorer`).

    Attributes
    ----------
    todo
        The files to score, in order. ``failed_inputs``: rows of the arguments that name
        nothing to score (missing file, empty folder, pattern without matches).
    skipped
        What folder scans left out (RAW, HEIC, text files: one line each, with why).
    resumed_header
        Whether the resumed output already has its csv header.
    """

    def __init__(
        self,
        inputs: Sequence[str | os.PathLike],
        model: Scorer | str | os.PathLike | None = None,
        *,
        recursive: bool = False,
        shard: tuple[int, int] | None = None,
        resume: tuple[str | os.PathLike, str] | None = None,
        workers: int | None = None,
        batch_size: int = 16,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        exact_decode: bool = False,
        device: str | None = None,
        runtime: str = "auto",
        threads: int | None = None,
        precision: str = "auto",
    ):
        configure_cpu(threads)
        self.skipped: list[str] = []
        paths, bad = find_inputs(
            [os.fspath(p) for p in inputs], recursive=recursive, skipped=self.skipped
        )
        if shard:
            paths = select_shard(paths, *shard)
            keep = set(select_shard(list(bad), *shard))
            bad = {p: e for p, e in bad.items() if p in keep}
        self.model = scorer_of(model, device=device, runtime=runtime, threads=threads,
                               precision=precision)
        done: set[str] = set()
        self.resumed_header = False
        if resume is not None:
            done, self.resumed_header = completed_paths(*resume)
            done |= {path_key(p) for p in done}
        self.todo = [p for p in paths if p not in done and path_key(p) not in done]
        self.failed_inputs = [
            ScoredImage(p, None, e) for p, e in sorted(bad.items()) if p not in done
        ]
        self.workers = auto_workers(workers, len(self.todo))
        self.batch_size, self.max_pixels, self.exact_decode = batch_size, max_pixels, exact_decode

    def __len__(self) -> int:
        """The number of rows :meth:`rows` yields."""
        return len(self.todo) + len(self.failed_inputs)

    def rows(self, engine: Engine | None = None) -> Iterator[ScoredImage]:
        """The rows, one per file of :attr:`todo` and one per :attr:`failed_inputs`, in path
        order. ``engine`` scores them (default: this machine, :func:`iter_scores`)."""
        if not self.todo:
            yield from self.failed_inputs
            return
        score: Any = engine or iter_scores
        scored = score(
            self.model,
            self.todo,
            batch_size=self.batch_size,
            workers=self.workers,
            max_pixels=self.max_pixels,
            draft=not self.exact_decode,
        )
        yield from heapq.merge(self.failed_inputs, scored, key=lambda row: row.path)
