"""The one training loop of ``train-rank`` and ``finetune``.

Both runs share a skeleton: open the run folder (:func:`rankiqa.training.runner.open_run`) →
merge the saved options → build the model, optimizer and scheduler → :func:`restore` them from
the checkpoint → :func:`run_loop` → summary. A task supplies three callbacks:

* ``train_step(step, batch) -> loss``: one optimizer step (``step`` is 1-based and seeds the
  step's randomness, so a resumed run repeats an uninterrupted one);
* ``log(step)``: every ``log_every`` steps and at the last;
* ``validate(step)``: every ``val_every`` steps and at the last (validation, best, checkpoint).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

import torch

__all__ = ["progress_bar", "restore", "run_loop"]


def restore(
    state: dict[str, Any] | None,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> tuple[int, dict[str, Any]]:
    """Load the optimizer and scheduler of a checkpoint ``state`` (in place); return its
    ``(step, best)``, or ``(0, {})`` for a fresh run (``state`` is ``None``)."""
    if state is None:
        return 0, {}
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return int(state["step"]), dict(state.get("best", {}))


def progress_bar(enabled: bool, iters: int, step: int, desc: str) -> Any:
    """A tqdm bar from ``step`` to ``iters`` on a terminal, :class:`ProgressLines` when
    stderr is not one (a log), ``None`` when not ``enabled``."""
    if not enabled:
        return None
    if not sys.stderr.isatty():
        return ProgressLines(iters, step, desc)
    from tqdm import tqdm

    return tqdm(total=iters, initial=step, desc=desc, unit="it")


class ProgressLines:
    """Progress for a log: one line on ``stream`` (stderr) every ``every`` steps (default:
    ~20 lines a run) and at the last, with the rate and the latest postfix (loss, val).

    >>> import io
    >>> out = io.StringIO()
    >>> lines = ProgressLines(4, 0, "finetune", every=2, stream=out)
    >>> for loss in (0.9, 0.8, 0.7, 0.6):
    ...     lines.update(1); lines.set_postfix(loss=f"{loss:.1f}")
    >>> [line.split(",")[0] for line in out.getvalue().splitlines()]
    ['finetune: step 2/4 (50%)', 'finetune: step 4/4 (100%)']
    """

    def __init__(
        self,
        iters: int,
        step: int,
        desc: str,
        every: int | None = None,
        stream: IO[str] | None = None,
    ):
        self.iters, self.step, self.desc, self.first = iters, step, desc, step
        self.every = every or max(1, iters // 20)
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self._due = False

    def update(self, count: int = 1) -> None:
        self.step += count
        self._due = self.step % self.every == 0 or self.step >= self.iters

    def set_postfix(self, **values: str) -> None:
        if not self._due:
            return
        self._due = False
        rate = (time.perf_counter() - self.started) / max(1, self.step - self.first)
        left = rate * max(0, self.iters - self.step)
        extra = "".join(f", {k}={v}" for k, v in values.items())
        print(
            f"{self.desc}: step {self.step}/{self.iters} ({100 * self.step // max(1, self.iters)}%)"
            f", {rate:.2f} s/step, ~{left / 60:.1f} min left{extra}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        """Nothing to clear (a log keeps its lines)."""


def run_loop(
    batches: Iterable[Any],
    step: int,
    iters: int,
    train_step: Callable[[int, Any], float],
    log_every: int,
    log: Callable[[int], None],
    val_every: int,
    validate: Callable[[int], None],
    progress: Any = None,
    postfix: Callable[[float], dict[str, str]] | None = None,
    started: float | None = None,
) -> dict[str, Any]:
    """Run the steps after ``step`` (one per item of ``batches``, up to ``iters``).

    Returns the timings of the summary: ``steps`` (the last step), ``steps_this_run``,
    ``seconds`` (since ``started``, default now) and ``seconds_per_step``.

    Examples
    --------
    >>> seen = []
    >>> timing = run_loop(range(5), 3, 8, lambda s, b: 0.0, 2, lambda s: seen.append(("log", s)),
    ...                   4, lambda s: seen.append(("val", s)))
    >>> seen, timing["steps"], timing["steps_this_run"]
    ([('log', 4), ('val', 4), ('log', 6), ('log', 8), ('val', 8)], 8, 5)
    """
    started = time.perf_counter() if started is None else started
    first_step = step
    for batch in batches:
        step += 1
        loss = train_step(step, batch)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(**(postfix(loss) if postfix else {}))
        if step % log_every == 0 or step == iters:
            log(step)
        if step % val_every == 0 or step == iters:
            validate(step)
    if progress is not None:
        progress.close()
    elapsed = time.perf_counter() - started
    return {
        "steps": step,
        "steps_this_run": step - first_step,
        "seconds": elapsed,
        "seconds_per_step": elapsed / max(step - first_step, 1),
    }
