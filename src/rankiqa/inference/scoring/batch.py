"""Batch scoring of image files: one :class:`ScoredImage` row per path, in order.

:func:`iter_scores` asks the model (any :class:`~rankiqa.inference.model.scorer.Scorer`) for
its ``score_files``: the torch-free :class:`~rankiqa.inference.scoring.onnx_model.OnnxModel`
uses :func:`pool_scores` here (worker processes that each decode, preprocess with NumPy and
run a single-threaded session); an :class:`~rankiqa.inference.model.IQAModel` uses
:mod:`rankiqa.inference.model.torch_batch` (DataLoader workers).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from rankiqa.core.imageio import DEFAULT_MAX_PIXELS, ImageReadError
from rankiqa.core.interrupts import quiet_worker, workers_starting
from rankiqa.inference.model.rows import ScoredImage, error_text
from rankiqa.inference.model.scorer import Scorer

#: the model of a worker process (set by :func:`_start_worker`)
_WORKER_MODEL: Scorer | None = None


def _start_worker(model: Scorer) -> None:
    global _WORKER_MODEL
    quiet_worker()  # Ctrl-C and a pool's shutdown end a worker without a traceback
    _WORKER_MODEL = model


def _score_one(task: tuple[str, int | None, bool]) -> tuple[float | None, str]:
    path, max_pixels, draft = task
    return score_file(_WORKER_MODEL, path, max_pixels, draft)


def score_file(model: Scorer, path: str, max_pixels: int | None, draft: bool):
    """(score, "") or (None, error text) for one file; never raises for a bad file."""
    try:
        views = model.views(path, max_pixels=max_pixels, exact_decode=not draft)
        return model.score_views([views])[0], ""
    except ImageReadError as exc:
        return None, error_text(path, exc)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a run
        return None, f"{type(exc).__name__}: {exc}"


def iter_scores(
    model: Scorer,
    paths: Sequence[str | os.PathLike],
    batch_size: int = 16,
    workers: int = 2,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft: bool = True,
) -> Iterator[ScoredImage]:
    """Score image files in order, yielding one :class:`ScoredImage` per path as they finish.

    ``workers`` processes decode, preprocess (and score, where the runtime allows; 0: in this
    process). ``draft`` lets JPEGs decode at reduced scale when the protocol downsizes them
    anyway. The same as ``model.score_files(...)``.
    """
    return model.score_files(paths, batch_size, workers, max_pixels, draft)


def pool_scores(
    model: Scorer,
    paths: Sequence[str | os.PathLike],
    workers: int = 2,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft: bool = True,
) -> Iterator[ScoredImage]:
    """Rows scored by ``workers`` processes, each with ``model.worker_copy`` (0: here)."""
    paths = [os.fspath(p) for p in paths]
    if workers <= 0:
        for path in paths:
            yield ScoredImage(path, *score_file(model, path, max_pixels, draft))
        return
    import multiprocessing  # here: a one-photo run (workers=0) does not pay for its import

    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn" if os.name != "posix" else "fork")
    with workers_starting():
        pool = context.Pool(workers, _start_worker, (model.worker_copy(threads),))
    with pool:
        tasks = ((path, max_pixels, draft) for path in paths)
        for path, result in zip(paths, pool.imap(_score_one, tasks, chunksize=1), strict=True):
            yield ScoredImage(path, *result)
