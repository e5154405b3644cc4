"""A progress bar on stderr: tqdm's when it is installed (the torch extra brings it), else a
one-line counter, so the scoring commands need no extra package."""

from __future__ import annotations

import sys
import time


class Progress:
    """``update()`` once per item; ``close()`` at the end. Draws nothing when not ``enabled``."""

    def __init__(self, total: int, enabled: bool = True, unit: str = "img"):
        self.total, self.enabled, self.unit = total, enabled, unit
        self.count, self.start, self._bar = 0, time.monotonic(), None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, unit=unit, file=sys.stderr)

    def update(self, n: int = 1) -> None:
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled:
            rate = self.count / max(1e-9, time.monotonic() - self.start)
            sys.stderr.write(f"\r{self.count}/{self.total} {self.unit} ({rate:.1f} {self.unit}/s)")
            sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self.count:
            sys.stderr.write("\n")
            sys.stderr.flush()
