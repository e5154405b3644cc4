"""Clean interrupts: Ctrl-C (SIGINT) and ``kill`` (SIGTERM) end a run with one line, no
traceback from any process.

The main process turns SIGTERM into :class:`Interrupted` (a ``KeyboardInterrupt``, so every
``finally`` and pool shutdown runs as for Ctrl-C); worker processes ignore SIGINT (the terminal
sends it to the whole process group; the main process decides) and die quietly on SIGTERM,
which is how a pool is shut down.

>>> import signal
>>> with terminate_raises():
...     try:
...         signal.raise_signal(signal.SIGTERM)
...     except Interrupted as stop:
...         print(stop.exit_code, stop)
143 terminated (SIGTERM)
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

_CATCHABLE = tuple(
    s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s
)


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``exit_code`` is the shell's 128 + signal number."""

    def __init__(self, signum: int = signal.SIGINT):
        self.signum = signum
        self.exit_code = 128 + int(signum)
        name = signal.Signals(signum).name
        super().__init__("interrupted" if signum == signal.SIGINT else f"terminated ({name})")


def _raise(signum: int, _frame) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Interrupted` in the main thread."""
    sigterm = getattr(signal, "SIGTERM", None)
    try:
        previous = signal.signal(sigterm, _raise) if sigterm else None
    except ValueError:  # not the main thread: leave signals alone
        previous = sigterm = None
    try:
        yield
    finally:
        if sigterm and previous is not None:
            signal.signal(sigterm, previous)


def quiet_worker() -> None:
    """For a worker process's start: ignore SIGINT, die on SIGTERM without a traceback, and
    unblock what :func:`workers_starting` blocked."""
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _CATCHABLE)


@contextlib.contextmanager
def workers_starting() -> Iterator[None]:
    """Around starting worker processes: SIGINT and SIGTERM wait (blocked) until the workers
    have their own handlers (:func:`quiet_worker`), then reach this process as usual."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _CATCHABLE)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
