"""A training run's folder (``--out``): start a new run or resume the one it holds.

Seeding and exact resume
    All per-iteration randomness is derived from ``(seed, iteration, rank)``
    (:mod:`rankiqa.core.seeding`): call :func:`~rankiqa.core.seeding.seed_step` at the start
    of every iteration and build samplers from :func:`~rankiqa.core.seeding.derive_seed`. A
    run resumed from the checkpoint of iteration ``k`` then replays iterations ``k+1 ...``
    exactly as the uninterrupted run does; only model, optimizer, scheduler and the step
    counter need to be checkpointed.

>>> import tempfile
>>> open_run(tempfile.mkdtemp(), "rank", resume="auto") is None  # no checkpoint: a fresh run
True
"""

from __future__ import annotations

import os
from pathlib import Path

from rankiqa.core.checkpoint import load_checkpoint
from rankiqa.core.errors import UserError

__all__ = [
    "open_run",
]


def open_run(out: str | os.PathLike, kind: str, resume: bool | str) -> dict | None:
    """The checkpoint state to resume in run folder ``out``, or ``None`` for a fresh run.

    ``resume``: ``False`` (start; refused over an existing run), ``True`` (continue; refused
    when there is no checkpoint) or ``"auto"`` (continue if there is a checkpoint, else start).
    A checkpoint of another ``kind`` is always refused (``UserError``).
    """
    ckpt_path = Path(out) / "checkpoint.pt"
    if resume == "auto":
        resume = ckpt_path.exists()
    if resume:
        state = load_checkpoint(ckpt_path)
        if state.get("kind") != kind:
            raise UserError(f"{ckpt_path}: not a {kind} checkpoint (kind={state.get('kind')})")
        return state
    if ckpt_path.exists():
        raise UserError(
            f"--out {out}: already holds a run (checkpoint.pt); pass --resume (or --resume auto) "
            "to continue it, or choose another folder"
        )
    return None
