"""Int8 graphs of a packaged model with 7-bit weights (``reduce_range``, shipped) and with 8-bit
weights, against its fp32 graph, on this CPU: share of photos within 2 points, drift, and the
one-thread network time of each (``rankiqa.inference.export.quantize.graph_scores``).

Why: ONNX Runtime's uint8 × int8 kernels without VNNI add pairs of products in 16 bits, which
saturate with 8-bit weights; with VNNI (AVX-512 VNNI, AVX-VNNI) the sums are exact in 32 bits.
So the better graph depends on the CPU (``cpu_flags`` in the output says which this one has).
The photos default to the 504 clive-dev photos outside the lockbox (never the lockbox); the
8-bit graph is calibrated like the shipped one (CBSD68 + McMaster and one LIVE-preset copy of
each) and written to a temporary folder: nothing packaged changes. Needs the torch extra.

    python benchmarks/int8_weight_bits.py --clive ../shared/data/clive-dev/ChallengeDB_release \\
        --calibration ../shared/data/reference/cbsd68 ../shared/data/reference/mcmaster
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from rankiqa.core.imageio import read_image
from rankiqa.core.model_file import read_metadata
from rankiqa.core.protocol import InputProtocol
from rankiqa.inference.export.packaged import lockbox_photos
from rankiqa.inference.export.quantize import (
    SHIPPED_SETTINGS,
    calibration_images,
    graph_scores,
    quantize_graph,
    score_drift,
)
from rankiqa.inference.model.paths import packaged_models_dir
from rankiqa.inference.scoring.cpu import cpu_flags

INT8_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clive", required=True, help="LIVE Challenge root (ChallengeDB_release)")
    ap.add_argument("--calibration", nargs="+", required=True, help="calibration photo folders")
    ap.add_argument("--model", default="default", help="packaged model name (default: default)")
    ap.add_argument("--n", type=int, default=None, help="only the first N photos")
    args = ap.parse_args()
    weights = packaged_models_dir()
    fp32_graph, shipped = weights / f"{args.model}.onnx", weights / f"{args.model}.int8.onnx"
    protocol = InputProtocol.from_dict(read_metadata(weights / f"{args.model}.safetensors")["input"])
    eight_bit = replace(SHIPPED_SETTINGS, reduce_range=False)
    photos, _ = lockbox_photos(args.clive, inside=False)
    images = [read_image(p, draft_size=None) for p in photos[: args.n]]
    with tempfile.TemporaryDirectory() as tmp:
        calibration = calibration_images(args.calibration, eight_bit.distorted, eight_bit.seed)
        graph = quantize_graph(fp32_graph, Path(tmp) / "int8-8bit.onnx", calibration, protocol,
                               eight_bit)
        fp32, t32 = graph_scores(fp32_graph, images, protocol)
        result = {"model": args.model, "photos": len(images), "cpu_flags": [f for f in cpu_flags() if f in INT8_FLAGS],
                  "fp32_ms_per_image_1_thread": round(1000 * t32, 1)}
        for name, path in (("int8_7bit_weights_shipped", shipped), ("int8_8bit_weights", graph)):
            scores, seconds = graph_scores(path, images, protocol)
            result[name] = {**score_drift(scores, fp32), "ms_per_image_1_thread": round(1000 * seconds, 1),
                            "fp32_over_int8": round(t32 / seconds, 2)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
