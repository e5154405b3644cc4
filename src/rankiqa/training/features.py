"""Feature caches: the stats-head input of a frozen backbone, computed once per image.

Training only a :class:`~rankiqa.models.heads.StatsHead` on a frozen backbone needs the
backbone once per image, not once per step: :func:`cache_features` runs it over an IQA dataset
(with opinion scores) or a ranked set (``rankiqa distort`` output) under an input protocol and
stores, per image and per view (the image and its mirror), the pooled per-channel mean and
standard deviation of every tap — exactly what the stats head of that backbone sees when the
packaged model scores the image (see docs/contracts.md, feature cache).

File: ``NAME.safetensors`` with one tensor ``stats`` (rows × features, float32) and under the
header key ``rankiqa-features`` a JSON object ``{"format": "rankiqa-features", "version": 1,
"backbone": ..., "weights": ..., "input": {...}, "source": ..., "rows": [...]}``; each row has
``id``, ``flip`` and either ``target`` (MOS on 0-100) and ``index`` (the dataset record) or
``reference``, ``group`` and ``level`` (0 = pristine). Work is saved in chunks beside the output
(``NAME.safetensors.part/``) so an interrupted run resumes.

With a ``cut`` (EfficientNet-Lite backbones), the backbone's blocks ``0 .. cut - 1`` are the
frozen bottom: ``stats`` then holds only the statistics of the taps below the cut, and each row
also stores the output of block ``cut - 1`` (float16 tensor ``maps.ROW``, C×h×w), from which
``rankiqa train-head`` trains the blocks above the cut together with the head
(:mod:`rankiqa.training.top`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rankiqa.core.errors import UserError
from rankiqa.core.files import atomic_path
from rankiqa.core.imageio import read_image
from rankiqa.core.preprocess import InputProtocol, decode_size_hint, prepare_image, to_float_tensor
from rankiqa.models import build_model
from rankiqa.models.backbones import BACKBONES
from rankiqa.models.networks import feature_taps
from rankiqa.training.options import FeaturesConfig

FORMAT, VERSION, METADATA_KEY = "rankiqa-features", 1, "rankiqa-features"
CHUNK = 128

__all__ = ["FeatureCache", "cache_features", "head_inputs", "read_features"]


@dataclass
class FeatureCache:
    """A read feature cache: ``stats`` (rows × features) and its metadata."""

    stats: torch.Tensor
    meta: dict[str, Any]
    #: with a cut: the output of block ``cut - 1`` per row (float16, C×h×w)
    maps: list[torch.Tensor] | None = None

    @property
    def cut(self) -> int | None:
        """First trainable block (``None``: a cache of the whole frozen backbone)."""
        return self.meta.get("cut")

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.meta["rows"]

    @property
    def protocol(self) -> InputProtocol:
        return InputProtocol.from_dict(self.meta["input"])

    def rows_of(self, flip: int) -> dict[int, int]:
        """Dataset record index → row, for views with mirror flag ``flip`` (IQA caches)."""
        return {int(r["index"]): k for k, r in enumerate(self.rows) if int(r["flip"]) == flip}

    def ranked_groups(self) -> list[list[int]]:
        """Rows of each (reference, group) sequence ordered by level, pristine first
        (ranked caches, unmirrored views)."""
        pristine: dict[str, int] = {}
        seqs: dict[tuple[str, str], dict[int, int]] = {}
        for k, r in enumerate(self.rows):
            if int(r["flip"]):
                continue
            if int(r["level"]) == 0:
                pristine[r["reference"]] = k
            else:
                seqs.setdefault((r["reference"], r["group"]), {})[int(r["level"])] = k
        return [
            [pristine[ref]] + [levels[lv] for lv in sorted(levels)]
            for (ref, _), levels in sorted(seqs.items())
            if ref in pristine
        ]


def bottom_outputs(net: torch.nn.Module, images: torch.Tensor, cut: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The statistics of the taps below ``cut`` and the output of block ``cut - 1`` of a
    :class:`~rankiqa.models.QualityNet` with an EfficientNet-Lite backbone."""
    below, mid = net.backbone.forward_bottom((images - net.mean) / net.std, cut)
    return net.head.pool(below), mid


def head_inputs(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The stats-head input (pooled mean/std of every tap, before its normalisation) of a
    :class:`~rankiqa.models.QualityNet` for N×3×H×W images in [0, 1]."""
    taps = tuple(BACKBONES[net.config["backbone"]].taps)
    return net.head.pool(feature_taps(net.backbone, (images - net.mean) / net.std, taps))


def _items(kind: str, root: str | os.PathLike, dataset: str | None) -> list[dict[str, Any]]:
    if kind == "ranked":
        from rankiqa.data.ranked import read_ranked_set

        ranked = read_ranked_set(root)
        if ranked.label_width:
            raise UserError(f"{root}: partially ordered ranked sets are not supported here")
        items = [{"id": str(p.relative_to(ranked.root)), "path": str(p), "reference": ref,
                  "group": "", "level": 0} for ref, p in sorted(ranked.pristine.items())]
        items += [{"id": str(p.relative_to(ranked.root)), "path": str(p), "reference": ref,
                   "group": group, "level": level}
                  for (ref, group, level), p in sorted(ranked.images.items())]
        return items
    from rankiqa.data.iqa import load_iqa_dataset

    table = load_iqa_dataset(dataset or kind, root)
    return [{"id": str(Path(r.path).relative_to(table.root)), "path": str(r.path),
             "target": float(r.target), "index": i} for i, r in enumerate(table.records)]


def cache_features(
    out: str | os.PathLike,
    root: str | os.PathLike,
    dataset: str = FeaturesConfig.dataset,
    backbone: str = FeaturesConfig.backbone,
    weights: str = FeaturesConfig.backbone_weights,
    resize: int = FeaturesConfig.resize,
    flips: bool = True,
    progress: bool | None = None,
    cut: int | None = None,
) -> Path:
    """Cache the stats-head inputs of ``backbone`` for every image of ``root``.

    ``dataset`` is ``ranked`` (a ``rankiqa distort`` folder) or an IQA dataset name
    (``rankiqa datasets``); ``resize`` the shorter side of the whole-image input; ``flips`` adds
    each image's mirror as a second row (augmentation for training); ``cut`` also stores the
    output of block ``cut - 1`` per row, for training the blocks above it (module docstring).
    """
    out = Path(out)
    protocol = InputProtocol(resize=int(resize), test_crops="full", crop_size=int(resize))
    items = _items("ranked" if dataset == "ranked" else "iqa", root, dataset)
    net = build_model(backbone, "stats", weights).eval().to(memory_format=torch.channels_last)
    if cut is not None and not hasattr(net.backbone, "forward_bottom"):
        raise UserError(f"--cut: backbone {backbone} cannot be cut (EfficientNet-Lite only)")
    if cut is not None and not 0 < int(cut) < len(net.backbone._blocks):
        raise UserError(f"--cut must be in 1..{len(net.backbone._blocks) - 1}, got {cut}")
    meta = {"format": FORMAT, "version": VERSION, "backbone": backbone, "weights": str(weights),
            "input": protocol.to_dict(), "source": str(root), "dataset": dataset}
    if cut is not None:
        meta["cut"] = int(cut)
    part = Path(f"{out}.part")
    part.mkdir(parents=True, exist_ok=True)
    signature = json.dumps({k: meta.get(k) for k in ("backbone", "weights", "input", "source",
                                                       "cut")})
    sig_file = part / "signature.json"
    if sig_file.is_file() and sig_file.read_text() != signature:
        raise UserError(f"{part}: holds partial work of another cache; delete it or choose --out")
    sig_file.write_text(signature)
    show = sys.stderr.isatty() if progress is None else progress
    started, done = time.perf_counter(), 0
    for start in range(0, len(items), CHUNK):
        chunk_path = part / f"{start:07d}.safetensors"
        done += len(items[start : start + CHUNK])
        if chunk_path.is_file():
            continue
        stats, maps = [], []
        with torch.inference_mode():
            for item in items[start : start + CHUNK]:
                image = to_float_tensor(read_image(item["path"], draft_size=decode_size_hint(protocol)))
                image = prepare_image(image, protocol).unsqueeze(0)
                views = torch.cat([image, image.flip(-1)]) if flips else image
                views = views.contiguous(memory_format=torch.channels_last)
                if cut is None:
                    stats.append(head_inputs(net, views))
                else:
                    below, mid = bottom_outputs(net, views, int(cut))
                    stats.append(below)
                    maps += [m.half().contiguous() for m in mid]
        from safetensors.torch import save_file

        tensors = {"stats": torch.cat(stats).float().contiguous()}
        tensors.update({f"maps.{k}": m for k, m in enumerate(maps)})
        with atomic_path(chunk_path) as tmp:
            save_file(tensors, str(tmp))
        if show is not False:
            rate = done / max(time.perf_counter() - started, 1e-9)
            print(f"features {out.name}: {done}/{len(items)} images ({rate:.1f}/s)",
                  file=sys.stderr, flush=True)
    from safetensors.torch import load_file, save_file

    chunks = [load_file(str(p)) for p in sorted(part.glob("*.safetensors"))]
    stats = torch.cat([c["stats"] for c in chunks])
    maps = [c[f"maps.{k}"] for c in chunks for k in range(c["stats"].shape[0]) if cut is not None]
    views = 2 if flips else 1
    meta["rows"] = [{**{k: v for k, v in item.items() if k != "path"}, "flip": f}
                    for item in items for f in range(views)]
    if stats.shape[0] != len(meta["rows"]):
        raise UserError(f"{part}: partial work does not match the images of {root}; delete it")
    tensors = {"stats": stats.contiguous(), **{f"maps.{k}": m for k, m in enumerate(maps)}}
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta)})
    shutil.rmtree(part)
    return out


def read_features(path: str | os.PathLike) -> FeatureCache:
    """Read a feature cache written by :func:`cache_features` (never unpickles)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: feature cache not found")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            meta = json.loads((handle.metadata() or {})[METADATA_KEY])
            stats = handle.get_tensor("stats")
            maps = None
            if meta.get("cut") is not None:
                maps = [handle.get_tensor(f"maps.{k}") for k in range(stats.shape[0])]
    except Exception as exc:  # noqa: BLE001 - any parsing failure is the file's fault
        raise UserError(f"{path}: not a rankiqa feature cache ({exc})") from None
    if meta.get("format") != FORMAT or stats.shape[0] != len(meta.get("rows", ())):
        raise UserError(f"{path}: not a rankiqa feature cache (format or row count)")
    return FeatureCache(stats.float(), meta, maps)


def check_compatible(caches: Sequence[FeatureCache], names: Sequence[str]) -> None:
    """Every cache must come from the same backbone, weights and input protocol."""
    keys = ("backbone", "weights", "input", "cut")
    first = {k: caches[0].meta.get(k) for k in keys}
    for cache, name in zip(caches[1:], names[1:], strict=True):
        if {k: cache.meta.get(k) for k in keys} != first:
            raise UserError(f"{name}: made with another backbone, weights, input or cut than "
                            f"{names[0]}")
