"""A few hundred cases of the decoder fuzz run (benchmarks/fuzz_decode.py): every mutated file
is either scored or gets a clear error row; nothing crashes or hangs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_decode.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("fuzz_decode", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_decode"] = module  # its worker functions are pickled by name
    spec.loader.exec_module(module)
    return module


def test_fuzzed_images_never_crash_or_hang():
    report = load_bench().fuzz(None, cases=300, side=96, timeout=20.0, workers=1)
    assert report["cases"] >= 300
    assert report["crashes"] == 0, report["crash_examples"]
    assert report["hangs"] == 0
    assert report["scored"] > 0 and report["error_rows"] > 0
    assert report["scored"] + report["error_rows"] == report["cases"]
    assert {"truncate", "bitflip-header", "swapped-container", "declared-size"} <= set(
        report["mutations"]
    )
    assert report["top_error_reasons"].get("too many pixels", 0) > 0  # huge declared sizes


def test_elongated_image_is_refused_not_allocated(tmp_path):
    import numpy as np
    from PIL import Image

    from rankiqa.core.preprocess import InputProtocol
    from rankiqa.inference.model.torch_batch import ImageViewsDataset

    path = tmp_path / "strip.png"
    Image.fromarray(np.zeros((1, 30000, 3), np.uint8)).save(path)
    protocol = InputProtocol(resize=320, test_crops="center", crop_size=224)
    _, views, error = ImageViewsDataset([str(path)], protocol)[0]
    assert views is None and "too elongated" in error
