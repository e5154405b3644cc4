"""Regenerate the ONNX graphs shipped beside the packaged models' weights.

Every ``NAME.safetensors`` in ``rankiqa/weights`` gets ``NAME.onnx`` (outputs ``score`` and
the head's feature maps, see :func:`rankiqa.inference.export.onnx.export_onnx`) and
``NAME.onnx.json`` (the SHA-256 of the weights it was exported from): the scoring path
without torch uses a graph only when that digest matches, and the test suite checks that
graph and PyTorch agree. Run after adding or replacing a packaged model::

    python -m rankiqa.inference.export.packaged          # every packaged model
    python -m rankiqa.inference.export.packaged default  # one of them
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_text_atomic
from rankiqa.inference.export.onnx import export_onnx
from rankiqa.inference.model.loading import load_model_file
from rankiqa.inference.model.paths import (
    GRAPH_SUFFIX,
    SOURCE_DIGEST_KEY,
    file_digest,
    packaged_model_names,
    packaged_models_dir,
)


def export_graph(model_path: str | Path, out: str | Path | None = None) -> Path:
    """Export the shipped graph of one model file (default: beside it) and its digest file."""
    model_path = Path(model_path)
    out = Path(out) if out is not None else model_path.with_suffix(GRAPH_SUFFIX)
    digest = file_digest(model_path)
    model = load_model_file(model_path)
    export_onnx(
        model, out, dynamic_size=True, feature_maps=True, extra_metadata={SOURCE_DIGEST_KEY: digest}
    )
    # how the head pools a region's feature maps: what quality maps without torch reproduce
    pooling = "mean_std" if getattr(model.net.head, "multi_level", False) else "mean_max"
    side = {SOURCE_DIGEST_KEY: digest, "model_file": model_path.name, "pooling": pooling}
    write_text_atomic(Path(f"{out}.json"), json.dumps(side, indent=1) + "\n")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rankiqa.inference.export.packaged",
        description="Regenerate NAME.onnx beside every packaged NAME.safetensors.",
    )
    parser.add_argument("names", nargs="*", help="packaged models (default: all)")
    args = parser.parse_args(argv)
    names = args.names or packaged_model_names()
    try:
        for name in names:
            path = packaged_models_dir() / f"{name}.safetensors"
            if not path.is_file():
                raise UserError(f"no packaged model {name!r} ({path} is missing)")
            print(f"{export_graph(path)}  (from {path.name})")
    except UserError as exc:
        print(f"rankiqa: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
