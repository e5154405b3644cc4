"""Regenerate the ONNX graphs shipped beside the packaged models' weights.

Every ``NAME.safetensors`` in ``rankiqa/weights`` gets ``NAME.onnx`` (outputs ``score`` and
the head's feature maps, see :func:`rankiqa.inference.export.onnx.export_onnx`) and
``NAME.onnx.json`` (the SHA-256 of the weights it was exported from): the scoring path
without torch uses a graph only when that digest matches, and the test suite checks that
graph and PyTorch agree. Run after adding or replacing a packaged model::

    python -m rankiqa.inference.export.packaged          # every packaged model
    python -m rankiqa.inference.export.packaged default  # one of them

With ``--calibration DIR...`` it also writes each model's int8 graph ``NAME.int8.onnx`` and its
side file (:mod:`rankiqa.inference.export.quantize`), and with ``--check-clive ROOT`` it runs
the fp32-vs-int8 check on the LIVE Challenge lockbox (the 200 photos ``rankiqa datasets
--dataset clive --lockbox 200`` sets aside, seed 0) that decides whether ``precision="auto"``
uses it. The shipped int8 graphs come from::

    python -m rankiqa.inference.export.packaged \
        --calibration ../shared/data/reference/cbsd68 ../shared/data/reference/mcmaster \
        --check-clive ../shared/data/clive-dev/ChallengeDB_release
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_text_atomic
from rankiqa.core.model_file import read_metadata
from rankiqa.core.protocol import InputProtocol
from rankiqa.inference.export.onnx import export_onnx
from rankiqa.inference.export.quantize import (
    CALIBRATION_DISTORTIONS,
    CALIBRATION_LEVELS,
    SHIPPED_SETTINGS,
    QuantSettings,
    calibration_images,
    compare_precisions,
    quantize_graph,
    write_side_file,
)
from rankiqa.inference.model.loading import load_model_file
from rankiqa.inference.model.paths import (
    GRAPH_SUFFIX,
    INT8_GRAPH_SUFFIX,
    SOURCE_DIGEST_KEY,
    file_digest,
    graph_of,
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


#: what the int8 side file says about the check's photos
LOCKBOX_NOTE = (
    "LIVE Challenge lockbox: the 200 photos `rankiqa datasets --dataset clive --lockbox 200 "
    "--folds 5` sets aside (seed 0); SROCC against their MOS"
)
REST_NOTE = (
    "the other LIVE Challenge photos of the folder (outside the lockbox): a second, larger drift "
    "check, since 99 % of 200 photos lets only 2 of them drift"
)


def lockbox_photos(
    clive_root: str | os.PathLike, inside: bool = True
) -> tuple[list[Path], list[float]]:
    """(paths, MOS) of the LIVE Challenge lockbox (:func:`rankiqa.data.splits.lockbox_splits`,
    200 photos, seed 0); ``inside=False``: of every other photo of the folder."""
    from rankiqa.data.iqa.clive import load_clive
    from rankiqa.data.splits import lockbox_splits

    table = load_clive(Path(clive_root))
    split = next(s for s in lockbox_splits(table, 200, 5, 0) if s.lockbox)
    chosen = split.test if inside else split.train
    return [table.records[i].path for i in chosen], [table.records[i].target for i in chosen]


def quantize_packaged(
    model_path: str | os.PathLike,
    calibration: Sequence[str | os.PathLike],
    clive_root: str | os.PathLike | None = None,
    settings: QuantSettings | None = None,
    cache: str | os.PathLike | None = None,
) -> Path:
    """Write ``NAME.int8.onnx`` beside a model file whose fp32 graph is up to date, and its
    side file; with ``clive_root``, the lockbox check and its verdict. ``cache``: a folder for
    the activation ranges (``NAME.ranges.json``, see :func:`quantize_graph`): a rerun with
    other ``exclude`` settings then skips the calibration."""
    settings = settings or SHIPPED_SETTINGS
    model_path = Path(model_path)
    graph = graph_of(model_path)
    if graph is None:
        raise UserError(f"{model_path}: export its fp32 graph first (no up-to-date {GRAPH_SUFFIX})")
    protocol = InputProtocol.from_dict(read_metadata(model_path)["input"])
    images = list(calibration_images(calibration, settings.distorted, settings.seed))
    ranges = None
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)
        ranges = Path(cache) / f"{model_path.stem}.{settings.method}.ranges.json"
    out = quantize_graph(
        graph, model_path.with_suffix(INT8_GRAPH_SUFFIX), images, protocol, settings, ranges
    )
    names = "\n".join(name for name, _ in images)
    record = {
        "folders": [Path(f).name for f in calibration],
        "photos": len(images) // (1 + settings.distorted),
        "images": len(images),
        "distortions": f"{settings.distorted} per photo: LIVE preset of rankiqa distort, groups "
        f"{'/'.join(CALIBRATION_DISTORTIONS)} and levels {CALIBRATION_LEVELS} cycled",
        "names_sha256": hashlib.sha256(names.encode()).hexdigest(),
        "not_used": "no LIVE Challenge (clive-dev) and no Kodak photo: they evaluate the models",
    }
    check = None
    if clive_root is not None:
        photos, mos = lockbox_photos(clive_root)
        check = {"set": LOCKBOX_NOTE, **compare_precisions(graph, out, photos, mos, protocol)}
        photos, mos = lockbox_photos(clive_root, inside=False)
        check["rest"] = {"set": REST_NOTE, **compare_precisions(graph, out, photos, mos, protocol)}
    fp32_side = json.loads(Path(f"{graph}.json").read_text(encoding="utf-8"))
    write_side_file(out, model_path, settings, record, check, fp32_side.get("pooling"))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rankiqa.inference.export.packaged",
        description="Regenerate NAME.onnx beside every packaged NAME.safetensors.",
    )
    parser.add_argument("names", nargs="*", help="packaged models (default: all)")
    parser.add_argument(
        "--calibration",
        nargs="+",
        metavar="DIR",
        help="also write NAME.int8.onnx, calibrated on the photos in DIR... and distorted copies "
        "(never photos of an evaluation set)",
    )
    parser.add_argument(
        "--check-clive",
        metavar="ROOT",
        help="LIVE Challenge folder (ChallengeDB_release): check int8 against fp32 on its "
        "200-photo lockbox; int8 is the default only where the check passes",
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="keep the calibration's activation ranges in DIR (NAME.METHOD.ranges.json) and "
        "reuse them: only for the same calibration photos and weights",
    )
    parser.add_argument(
        "--int8-only", action="store_true", help="keep the fp32 graphs, (re)make the int8 ones"
    )
    args = parser.parse_args(argv)
    names = args.names or packaged_model_names()
    if args.int8_only and not args.calibration:
        parser.error("--int8-only needs --calibration")
    try:
        for name in names:
            path = packaged_models_dir() / f"{name}.safetensors"
            if not path.is_file():
                raise UserError(f"no packaged model {name!r} ({path} is missing)")
            if not args.int8_only:
                print(f"{export_graph(path)}  (from {path.name})")
            if args.calibration:
                out = quantize_packaged(path, args.calibration, args.check_clive, cache=args.cache)
                side = json.loads(Path(f"{out}.json").read_text(encoding="utf-8"))
                print(f"{out}  (accepted: {side['accepted']}; check: {side['check']})")
    except UserError as exc:
        print(f"rankiqa: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
