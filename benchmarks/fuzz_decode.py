"""Decoder fuzz run: mutated real images through ``rankiqa score``'s decode path.

Seeds are real photos (``--images``: a folder, e.g. ../shared/data/reference/kodak; without it
generated textured images), re-encoded as JPEG, PNG, GIF, WebP, BMP and TIFF at ``--side``
pixels. Each seed is mutated: truncation at every kind of offset (inside the signature, the
header, the first data chunk, halfway, one byte short), bit flips in the header and in the
data, swapped containers (one format's header on another's body, the wrong suffix) and huge or
zero declared sizes (PNG IHDR with a valid CRC, GIF screen, BMP header, JPEG SOF). Every case is
decoded exactly as ``rankiqa score`` does (``read_image`` with draft decoding and the pixel
limit, then ``image_views`` of the default model's input protocol) in a worker process, under a
per-file time limit.

Prints JSON: cases, scored, error_rows, crashes (an exception other than the clear
``ImageReadError``, or a dead worker), hangs (over the time limit), peak memory of the workers
and the pixel limit it must stay bounded by. Target: 0 crashes, 0 hangs.

    python benchmarks/fuzz_decode.py --images ../shared/data/reference/kodak --cases 2000
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import resource
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

FORMATS = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP", "tif": "TIFF"}


# ----------------------------------------------------------------------------- seeds


def seed_images(folder: str | None, count: int, side: int) -> list[np.ndarray]:
    """``count`` RGB arrays: photos from ``folder`` (centre-cropped squares), else generated."""
    arrays = []
    if folder:
        from rankiqa.core.imageio import find_images, read_image

        for path in find_images(folder)[:count]:
            arr = read_image(path)
            h, w = arr.shape[:2]
            s = min(h, w)
            top, left = (h - s) // 2, (w - s) // 2
            crop = Image.fromarray(arr[top : top + s, left : left + s])
            arrays.append(np.asarray(crop.resize((side, side), Image.Resampling.LANCZOS)))
    rng = np.random.default_rng(0)
    while len(arrays) < count:
        yy, xx = np.mgrid[0:side, 0:side] / side
        base = np.stack([np.sin(9 * xx + k) * np.cos(7 * yy) for k in range(3)], axis=2)
        noise = rng.normal(0, 0.1, (side, side, 3))
        arrays.append(np.clip((base * 0.4 + 0.5 + noise) * 255, 0, 255).astype(np.uint8))
    return arrays


def encode(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(array)
    if fmt == "GIF":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    image.save(buffer, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    return buffer.getvalue()


# ----------------------------------------------------------------------------- mutations


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def declared_size(data: bytes, ext: str, width: int, height: int) -> bytes | None:
    """``data`` with its header claiming ``width`` × ``height`` pixels (None: not supported)."""
    out = bytearray(data)
    if ext == "png" and data[12:16] == b"IHDR":
        body = struct.pack(">II", width, height) + data[24:29]
        return bytes(out[:8]) + _png_chunk(b"IHDR", body) + bytes(out[33:])
    if ext == "gif":
        out[6:10] = struct.pack("<HH", min(width, 65535), min(height, 65535))
        return bytes(out)
    if ext == "bmp":
        out[18:26] = struct.pack("<ii", width, height)
        return bytes(out)
    if ext == "jpg":
        for marker in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1"):
            at = data.find(marker)
            if at > 0:
                out[at + 5 : at + 9] = struct.pack(">HH", min(height, 65535), min(width, 65535))
                return bytes(out)
    return None


def mutations(data: bytes, ext: str, others: dict[str, bytes], rng: np.random.Generator):
    """Yield ``(kind, bytes, suffix)`` mutants of one encoded image."""
    n = len(data)
    header = min(n, 64)
    cuts = {0, 1, 2, 3, 4, 7, 8, 12, 16, 24, 32, 33, 64, 100, 256, 1024, n // 4, n // 2}
    cuts |= {3 * n // 4, n - 64, n - 2, n - 1}
    cuts |= {int(c) for c in rng.integers(1, n, 12)}
    for cut in sorted(c for c in cuts if 0 <= c < n):
        yield "truncate", data[:cut], ext
    for region, lo, hi, count in (("header", 0, header, 14), ("data", header, n, 14)):
        for _ in range(count):
            out = bytearray(data)
            for pos in rng.integers(lo, max(lo + 1, hi), int(rng.integers(1, 9))):
                out[int(pos)] ^= 1 << int(rng.integers(0, 8))
            yield f"bitflip-{region}", bytes(out), ext
    for _ in range(4):  # a run of garbage in the middle
        out = bytearray(data)
        at = int(rng.integers(header, n))
        out[at : at + 32] = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
        yield "garbage-run", bytes(out), ext
    for other_ext, other in others.items():
        if other_ext == ext:
            continue
        yield "wrong-suffix", other, ext
        yield "swapped-container", other[:32] + data[32:], ext
        yield "swapped-container", data[:32] + other[32:], ext
    for width, height in ((65535, 65535), (1, 65535), (65535, 1), (0, 0), (30000, 30000)):
        mutant = declared_size(data, ext, width, height)
        if mutant is not None:
            yield "declared-size", mutant, ext
            yield "declared-size-truncated", mutant[: max(1, len(mutant) // 3)], ext


# ----------------------------------------------------------------------------- decoding


def _decode_one(path: str, max_pixels: int, protocol: dict) -> tuple[str, str, int]:
    """Decode like ``rankiqa score``: ``(outcome, detail, peak RSS in KiB)``."""
    from rankiqa.core.imageio import ImageReadError, read_image
    from rankiqa.core.preprocess import (
        InputProtocol,
        decode_size_hint,
        image_views,
        to_float_tensor,
    )

    proto = InputProtocol.from_dict(protocol)
    try:
        array = read_image(path, max_pixels=max_pixels, draft_size=decode_size_hint(proto))
        image_views(to_float_tensor(array), proto)
        outcome, detail = "scored", ""
    except ImageReadError as exc:
        outcome, detail = "error", str(exc).split(": ", 1)[-1][:120]
    except Exception as exc:  # noqa: BLE001 - this is what the fuzz run looks for
        outcome, detail = "crash", f"{type(exc).__name__}: {exc}"[:200]
    return outcome, detail, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_cases(
    paths: list[str], max_pixels: int, protocol: dict, timeout: float, workers: int = 1
) -> list[tuple[str, str, int]]:
    """Decode every path in worker processes, in order; a case still running after
    ``timeout`` seconds is a hang (a worker that died ends there too) and the pool is rebuilt."""
    context = multiprocessing.get_context("fork")
    results: list[tuple[str, str, int] | None] = [None] * len(paths)

    def start():
        return context.Pool(workers, _init_worker, maxtasksperchild=200)

    def submit(pool, i):
        return i, pool.apply_async(_decode_one, (paths[i], max_pixels, protocol))

    pool = start()
    try:
        window = [submit(pool, i) for i in range(min(len(paths), workers * 4))]
        following = len(window)
        while window:
            index, job = window.pop(0)
            try:
                results[index] = job.get(timeout=timeout)
            except multiprocessing.TimeoutError:
                results[index] = ("hang", paths[index], 0)
                pool.terminate()
                pool = start()
                window = [submit(pool, i) for i, _ in window]
            if following < len(paths):
                window.append(submit(pool, following))
                following += 1
    finally:
        pool.terminate()
    return [r for r in results if r is not None]


def fuzz(
    folder: str | None,
    cases: int,
    side: int = 256,
    max_pixels: int | None = None,
    timeout: float = 10.0,
    workers: int = 1,
    seed: int = 0,
) -> dict:
    """Build at least ``cases`` mutants, decode them, and summarise (the benchmark's JSON)."""
    from rankiqa.core.imageio import DEFAULT_MAX_PIXELS
    from rankiqa.core.model_file import read_metadata
    from rankiqa.inference.model.paths import packaged_models_dir

    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    protocol = read_metadata(packaged_models_dir() / "default.safetensors")["input"]
    rng = np.random.default_rng(seed)
    kinds: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="rankiqa-fuzz-") as tmp:
        paths: list[str] = []
        seeds = seed_images(folder, max(1, cases // 500 + 1), side)
        round_ = 0
        while len(paths) < cases:
            array = seeds[round_ % len(seeds)]
            encoded = {ext: encode(array, fmt) for ext, fmt in FORMATS.items()}
            for ext, data in encoded.items():
                for kind, mutant, suffix in mutations(data, ext, encoded, rng):
                    path = Path(tmp) / f"{len(paths):05d}-{kind}.{suffix}"
                    path.write_bytes(mutant)
                    paths.append(str(path))
                    kinds[kind] = kinds.get(kind, 0) + 1
            round_ += 1
        baseline_path = Path(tmp) / "baseline.png"
        baseline_path.write_bytes(encode(seeds[0], "PNG"))
        baseline_kib = run_cases([str(baseline_path)], max_pixels, protocol, timeout, 1)[0][2]
        started = time.perf_counter()
        results = run_cases(paths, max_pixels, protocol, timeout, workers)
        seconds = time.perf_counter() - started
    outcomes = [r[0] for r in results]
    crashes = [r[1] for r in results if r[0] == "crash"]
    peak_kib = max((r[2] for r in results), default=0)
    errors: dict[str, int] = {}
    for outcome, detail, _ in results:
        if outcome == "error":
            key = detail.split("(")[0].strip()[:60]
            errors[key] = errors.get(key, 0) + 1
    return {
        "cases": len(results),
        "scored": outcomes.count("scored"),
        "error_rows": outcomes.count("error"),
        "crashes": len(crashes),
        "hangs": outcomes.count("hang"),
        "crash_examples": crashes[:5],
        "peak_worker_rss_mb": round(peak_kib / 1024, 1),
        "worker_rss_after_one_good_image_mb": round(baseline_kib / 1024, 1),
        "max_pixels": max_pixels,
        "max_pixels_rgb8_mb": round(max_pixels * 3 / 2**20, 1),
        "per_file_timeout_s": timeout,
        "seconds": round(seconds, 1),
        "mutations": kinds,
        "top_error_reasons": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:8]),
        "seed_images": folder or "generated",
        "side": side,
        "python": sys.version.split()[0],
        "pillow": Image.__version__,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default=None, help="folder of seed photos (default: generated)")
    parser.add_argument("--cases", type=int, default=2000, help="at least this many (2000)")
    parser.add_argument("--side", type=int, default=256, help="seed image side in pixels (256)")
    parser.add_argument("--max-pixels", type=int, default=None, help="pixel limit (score's)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-file limit, s (10)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    report = fuzz(args.images, args.cases, args.side, args.max_pixels, args.timeout, args.workers)
    print(json.dumps(report, indent=1))
    return 1 if report["crashes"] or report["hangs"] else 0


if __name__ == "__main__":
    sys.exit(main())
