"""Group photos into bursts and near-duplicates from their capture times and fingerprints.

Two photos belong together when they look alike (:mod:`rankiqa.workflow.fingerprint`) at a
strict similarity, or at a looser one when both carry capture times at most
``time_gap`` seconds apart (a burst). Groups are the connected sets of such pairs; a photo
like no other is a group of one. The defaults are measured on made bursts
(``benchmarks/cull.py``; docs/cull.md).

>>> import numpy as np
>>> from rankiqa.workflow.fingerprint import fingerprint
>>> rng = np.random.default_rng(0)
>>> a, b = (rng.integers(0, 256, (8, 8, 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
...         for _ in range(2))
>>> prints = np.stack([fingerprint(a), fingerprint(a[4:, 6:]), fingerprint(b)])
>>> group_bursts(prints, [None, None, None])
[0, 0, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rankiqa.workflow.fingerprint import similarities


@dataclass(frozen=True)
class BurstRule:
    """When two photos are one group.

    ``similarity``: fingerprint similarity that joins any two photos (near-duplicates, also
    without or across capture times); ``burst_similarity``: the lower similarity that joins two
    photos taken at most ``time_gap`` seconds apart.
    """

    similarity: float = 0.9
    burst_similarity: float = 0.6
    time_gap: float = 2.0


def group_bursts(
    fingerprints: np.ndarray, times: Sequence[float | None], rule: BurstRule | None = None
) -> list[int]:
    """Group number (0, 1, ... in order of first appearance) of each photo."""
    rule = rule or BurstRule()
    count = len(times)
    if count == 0:
        return []
    similar = similarities(np.asarray(fingerprints, dtype=np.float32))
    linked = similar >= rule.similarity
    stamp = np.array([np.nan if t is None else t for t in times], dtype=np.float64)
    close = np.abs(stamp[:, None] - stamp[None, :]) <= rule.time_gap  # NaN: never close
    linked |= close & (similar >= rule.burst_similarity)
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked, 1)), strict=True):
        a, b = root(int(i)), root(int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    numbers: dict[int, int] = {}
    return [numbers.setdefault(root(i), len(numbers)) for i in range(count)]
