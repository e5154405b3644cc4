"""Seeding: every random stream derived from ``(seed, *keys)`` so runs repeat and resume exactly.

All per-iteration randomness of training is derived from ``(seed, iteration, rank)``: call
:func:`seed_step` at the start of every iteration (it reseeds torch, numpy and ``random``)
and build samplers and crop generators from :func:`derive_seed` / :func:`generator`.
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["derive_seed", "generator", "seed_everything", "seed_step"]


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from ``seed`` and integer ``keys`` (e.g. iteration, rank).

    Uses :class:`numpy.random.SeedSequence`, so nearby inputs give unrelated streams.

    Examples
    --------
    >>> derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(0, 2)
    True
    >>> 0 <= derive_seed(7, 3, 5) < 2**63
    True
    """
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *(int(k) & 0xFFFFFFFF for k in keys)])
    hi, lo = (int(v) for v in ss.generate_state(2, dtype=np.uint32))
    return ((hi & 0x7FFFFFFF) << 32) | lo


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy and torch (CPU and all CUDA devices)."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))  # noqa: NPY002 - legacy global RNG, seeded on purpose
    torch.manual_seed(seed)


def seed_step(seed: int, step: int, rank: int = 0) -> None:
    """Reseed the global RNGs for one iteration (dropout, augmentation) from (seed, step, rank)."""
    seed_everything(derive_seed(seed, step, rank))


def generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with :func:`derive_seed` of ``seed`` and ``keys``.

    Examples
    --------
    >>> a = torch.rand(2, generator=generator(0, 4))
    >>> torch.equal(a, torch.rand(2, generator=generator(0, 4)))
    True
    """
    gen = torch.Generator()
    gen.manual_seed(derive_seed(seed, *keys))
    return gen
