"""CPU runtime settings for fast inference: thread count and glibc malloc tuning."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from pathlib import Path
from typing import Any

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_TUNED = False


def tune_malloc(threshold: int = 256 * 1024 * 1024) -> bool:
    """Keep large freed blocks in the heap instead of returning them to the kernel.

    glibc serves allocations above ``M_MMAP_THRESHOLD`` (dynamic, up to 32 MB) with fresh
    ``mmap`` pages that must be page-faulted and zeroed again for every batch; raising the mmap
    and trim thresholds lets activations reuse memory. Returns whether it was applied (glibc
    only; a no-op elsewhere).
    """
    global _TUNED
    if _TUNED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(_M_MMAP_THRESHOLD, threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, threshold) == 1
    _TUNED = bool(ok)
    return _TUNED


def configure_cpu(threads: int | None = None, malloc: bool = True) -> None:
    """Set the torch thread count (if given and torch is already imported; the torch-free
    path passes ``threads`` to ONNX Runtime instead) and apply :func:`tune_malloc`."""
    torch = sys.modules.get("torch")
    if threads is not None and torch is not None:
        torch.set_num_threads(threads)
    if malloc:
        tune_malloc()


def cpu_session(graph: str | Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session of ``graph`` with ``threads`` intra-op threads (``None``:
    ONNX Runtime's choice), one inter-op thread, warnings only, and idle threads that sleep
    instead of spinning, so the cores go to the decoding workers."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
