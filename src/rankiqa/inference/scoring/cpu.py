"""CPU runtime settings for fast inference: thread count, glibc malloc tuning, and ONNX Runtime
sessions that keep their optimised graph for the next cold start."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import platform
import sys
from pathlib import Path
from typing import Any

from rankiqa.core.files import cache_dir

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


def _cpu_flags_line() -> str:
    """The ``flags`` line of Linux's ``/proc/cpuinfo`` ("" elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            return next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        return ""


def cpu_flags() -> list[str]:
    """This CPU's feature flags as Linux names them (``avx2``, ``avx512_vnni``, ...); empty
    where ``/proc/cpuinfo`` is not there."""
    return _cpu_flags_line().partition(":")[2].split()


def _cpu_signature() -> str:
    """What an optimised graph depends on besides the graph: machine, CPU features, runtime."""
    import onnxruntime as ort

    flags = _cpu_flags_line()
    return f"{ort.__version__}|{platform.machine()}|{platform.processor()}|{flags}"


def optimized_graph_path(graph: str | Path, folder: str | Path | None = None) -> Path:
    """Where :func:`cpu_session` keeps the runtime-optimised form of ``graph`` (in
    ``folder``, default :func:`rankiqa.core.files.cache_dir` ``/ort``): the name is a hash of
    the graph's path, size and modification time, the ONNX Runtime version and this CPU."""
    graph = Path(graph).resolve()
    stat = graph.stat()
    key = f"{graph}|{stat.st_size}|{stat.st_mtime_ns}|{_cpu_signature()}"
    base = Path(folder) if folder is not None else cache_dir() / "ort"
    return base / f"{graph.stem}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.onnx"


def cpu_session(graph: str | Path, threads: int | None = None, cache: bool = True) -> Any:
    """An ONNX Runtime CPU session of ``graph`` with ``threads`` intra-op threads (``None``:
    ONNX Runtime's choice), one inter-op thread, warnings only, and idle threads that sleep
    instead of spinning, so the cores go to the decoding workers.

    With ``cache`` the graph as ONNX Runtime optimised it for this CPU (fusions, blocked
    layouts) is kept in :func:`optimized_graph_path` the first time and opened from there
    later without optimising again: a cold start saves most of the session's start-up. An
    unwritable cache folder or an unreadable cached file falls back to ``graph`` itself.
    """
    import onnxruntime as ort

    def options(optimize: bool) -> Any:
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if not optimize:
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return opts

    providers = ["CPUExecutionProvider"]
    cached = None
    if cache and not os.environ.get("RANKIQA_NO_GRAPH_CACHE"):
        try:
            cached = optimized_graph_path(graph)
        except OSError:
            cached = None
    if cached is not None and cached.is_file():
        try:
            session = ort.InferenceSession(str(cached), options(False), providers=providers)
        except Exception:  # noqa: BLE001 - a damaged cache file: optimise again
            cached.unlink(missing_ok=True)
        else:
            with contextlib.suppress(OSError):
                os.utime(cached)  # recently used: kept by _prune
            return session
    opts = options(True)
    tmp = None
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            opts.optimized_model_filepath = str(tmp)
        except OSError:
            tmp = None
    session = ort.InferenceSession(str(graph), opts, providers=providers)
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.replace(tmp, cached)
            _prune(cached.parent)
    return session


#: optimised graphs kept in the cache folder (the most recently used ones)
KEEP_OPTIMIZED = 8


def _prune(folder: Path, keep: int = KEEP_OPTIMIZED) -> None:
    """Delete all but the ``keep`` most recently used optimised graphs in ``folder`` (graphs
    regenerated or moved leave their old optimised copies behind)."""
    files = sorted(folder.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()
