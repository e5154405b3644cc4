"""The evaluation protocol: predict a dataset's images with test-time pooling, then report the
metrics per split (and per distortion type), with the median and mean ± std over splits.

Pooling follows the model's input protocol (docs/contracts.md contract 4) unless overridden: ``crops:N`` (the
paper's 30 random crops averaged), ``grid[:K]``, ``center`` or ``full``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from rankiqa.data.iqa.dataset import EvalViews, IQAImages
from rankiqa.data.iqa.records import IQATable
from rankiqa.data.splits import Split
from rankiqa.evaluation.metrics import (
    CI_MIN_IMAGES,
    CI_RESAMPLES,
    METRIC_KEYS,
    bootstrap_interval,
    iqa_metrics,
    summarise,
)
from rankiqa.models.head_specs import any_size_heads, head_spec


def as_iqa_model(net: torch.nn.Module, resize: int | None, test_crops: str, crop_size: int):
    """Wrap a bare QualityNet as an :class:`~rankiqa.inference.IQAModel` (identity score map)."""
    from rankiqa.inference.model.iqa_model import IQAModel

    if isinstance(net, IQAModel):
        return net
    metadata = {"input": {"resize": resize, "test_crops": test_crops, "crop_size": crop_size}}
    return IQAModel(net, metadata).train(net.training)


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats replaced by ``None`` (strict JSON)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _collate(items: list) -> list:
    return items


def predict(
    model: torch.nn.Module,
    images: IQAImages,
    test_crops: str,
    crop_size: int,
    indices: Sequence[int] | None = None,
    batch_size: int = 8,
    workers: int = 0,
    progress: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Pooled predictions for ``images`` (all, or ``indices``): the mean over each image's views.

    ``model`` is an ``IQAModel`` (its score mapping applies) or a bare ``QualityNet``. Image
    ``i``'s random crops are seeded with ``seed + i``, so predictions are reproducible.
    """
    from tqdm import tqdm

    model = as_iqa_model(model, images.resize, test_crops, crop_size)
    indices = list(range(len(images))) if indices is None else list(indices)
    views = EvalViews(images, test_crops, crop_size, seed=seed)
    subset = torch.utils.data.Subset(views, indices)
    loader = DataLoader(
        subset, batch_size=batch_size, num_workers=workers, collate_fn=_collate, shuffle=False
    )
    was_training = model.training
    out: list[float] = []
    for batch in tqdm(loader, desc="evaluating", disable=not progress, leave=False, unit="batch"):
        out.extend(model.score_views([v for v, _ in batch]))
    model.train(was_training)
    return np.asarray(out, dtype=np.float64)


def split_report(
    table: IQATable, predictions: dict[int, float], test: Sequence[int], per_type: bool = True
) -> dict[str, Any]:
    """Metrics on the ``test`` indices (``predictions`` maps record index → pooled prediction),
    with the 95 % bootstrap interval of SROCC over the images (:data:`CI_RESAMPLES` resamples;
    ``None`` under :data:`CI_MIN_IMAGES` images)."""
    pred = [predictions[i] for i in test]
    target = [table.records[i].target for i in test]
    report: dict[str, Any] = {"n": len(test), "metrics": iqa_metrics(pred, target)}
    enough = len(test) >= CI_MIN_IMAGES and math.isfinite(report["metrics"]["srocc"])
    report["srocc_ci95"] = (
        [round(v, 4) for v in bootstrap_interval(pred, target, resamples=CI_RESAMPLES)]
        if enough else None
    )
    types = sorted({table.records[i].distortion for i in test if table.records[i].distortion})
    if per_type and types:
        report["per_type"] = {}
        for dtype in types:
            idx = [i for i in test if table.records[i].distortion == dtype]
            report["per_type"][dtype] = iqa_metrics(
                [predictions[i] for i in idx], [table.records[i].target for i in idx]
            )
    return report


def evaluate_table(
    model: torch.nn.Module,
    table: IQATable,
    splits: Sequence[Split] | None,
    test_crops: str,
    crop_size: int,
    resize: int | None,
    batch_size: int = 8,
    workers: int = 0,
    progress: bool = False,
    cache: bool = False,
) -> dict[str, Any]:
    """Predict the test images of every split (each image once) and report the metrics.

    Without ``splits`` the whole dataset is one test set (split ``"all"``). The metrics compare
    predictions with the 0–100 higher-is-better targets (contract 3), so SROCC is positive for a
    good model whatever the dataset's score direction.
    """
    images = IQAImages(table, resize=resize, crop_size=crop_size, cache=cache)
    needed = sorted({i for s in splits for i in s.test}) if splits else list(range(len(table)))
    values = predict(model, images, test_crops, crop_size, needed, batch_size, workers, progress)
    predictions = dict(zip(needed, values.tolist(), strict=True))
    report: dict[str, Any] = {
        "dataset": table.name,
        "images": len(table),
        "score_direction": table.direction,
        "score_range": list(table.score_range),
        "target": "0-100, higher is better (contract 3)",
        "pooling": {"test_crops": test_crops, "crop_size": crop_size, "resize": resize},
        "metric_notes": {
            "srocc/krocc": "rank correlations of the raw predictions",
            "plcc_raw/rmse_raw": "on the raw predictions vs the 0-100 targets",
            "plcc_logistic5/rmse_logistic5": "after the 5-parameter logistic (Sheikh et al. 2006)",
            "plcc_logistic4/rmse_logistic4": "after the 4-parameter logistic (VQEG 2003)",
        },
        "splits": [],
    }
    for k, split in enumerate(splits or [Split((), tuple(needed), index=-1)]):
        entry = split_report(table, predictions, split.test)
        entry["split"] = "all" if not splits else split.index if split.index >= 0 else k
        report["splits"].append(entry)
    if len(report["splits"]) > 1:
        report["summary"] = summarise([s["metrics"] for s in report["splits"]])
        types = sorted({t for s in report["splits"] for t in s.get("per_type", {})})
        if types:
            report["per_type_summary"] = {
                t: summarise(
                    [s["per_type"][t] for s in report["splits"] if t in s.get("per_type", {})]
                )
                for t in types
            }
    report["predictions"] = {
        "index": needed,
        "path": [str(table.records[i].path) for i in needed],
        "prediction": values.tolist(),
        "target": [table.records[i].target for i in needed],
    }
    return report


def evaluate_model(
    model: Any,
    table: IQATable,
    splits: Sequence[Split] | None = None,
    test_crops: str | None = None,
    resize: int | None | str = "model",
    crop_size: int | None = None,
    batch_size: int = 8,
    workers: int = 0,
    progress: bool = False,
    per_type: bool = True,
    device: str | None = None,
) -> dict[str, Any]:
    """Evaluate a model on a dataset (the library form of ``rankiqa evaluate``).

    Parameters
    ----------
    model
        An :class:`~rankiqa.inference.IQAModel`, or anything :func:`rankiqa.load_model`
        accepts (packaged name, model file, checkpoint).
    table
        The dataset (:func:`rankiqa.data.iqa.load_iqa_dataset`).
    splits
        Test parts to report (:func:`rankiqa.data.splits.choose_splits`); ``None``: the whole
        dataset is one test set.
    test_crops, resize, crop_size
        Overrides of the model's input protocol (``resize="model"``: the model's; ``None``:
        native resolution). ``test_crops`` accepts the pooling forms of ``--crops`` (``30``).
    per_type
        Also report per distortion type (where the dataset has types).
    device
        ``cpu``, ``cuda``, ... (default: CUDA if available).

    Returns
    -------
    dict
        The report of :func:`evaluate_table`, plus ``model`` and ``model_score``.
    """
    from rankiqa.core.devices import resolve_device
    from rankiqa.core.errors import UserError
    from rankiqa.core.preprocess import parse_pooling
    from rankiqa.inference.model.loading import torch_model

    source = model
    model = torch_model(model, resolve_device(device))
    protocol = model.protocol
    test_crops = parse_pooling(test_crops) if test_crops else protocol.test_crops
    resize = protocol.resize if resize == "model" else resize
    crop_size = crop_size or protocol.crop_size
    if test_crops == "full" and not head_spec(model.config["head"]).any_size:
        raise UserError(
            f"--crops full needs a head that accepts any size ({any_size_heads()}); "
            f"this model has the {model.config['head']!r} head"
        )
    report = evaluate_table(
        model,
        table,
        splits,
        test_crops,
        crop_size,
        resize,
        batch_size=batch_size,
        workers=workers,
        progress=progress,
    )
    if not per_type:
        for s in report["splits"]:
            s.pop("per_type", None)
        report.pop("per_type_summary", None)
    named = source is None or isinstance(source, (str, os.PathLike))
    report["model"] = str(source) if named else model.metadata.get("name")
    report["model_score"] = {"offset": model.offset, "scale": model.scale}
    return report


COLUMNS = (
    ("n", "n"),
    ("srocc", "SROCC"),
    ("krocc", "KROCC"),
    ("plcc_raw", "PLCC raw"),
    ("rmse_raw", "RMSE raw"),
    ("plcc_logistic5", "PLCC log5"),
    ("rmse_logistic5", "RMSE log5"),
    ("plcc_logistic4", "PLCC log4"),
    ("rmse_logistic4", "RMSE log4"),
)


def _fmt(key: str, value: Any) -> str:
    if key == "n":
        return str(int(value))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.2f}" if key.startswith("rmse") else f"{value:.4f}"


def format_report(report: dict[str, Any], type_names: dict[str, str] | None = None) -> str:
    """A plain-text table of a report from :func:`evaluate_table`."""
    type_names = type_names or {}
    header = ["split", "type"] + [label for _, label in COLUMNS]
    rows: list[list[str]] = []
    for s in report["splits"]:
        rows.append(
            [str(s["split"]), "all"]
            + [_fmt(k, s["metrics"][k] if k != "n" else s["n"]) for k, _ in COLUMNS]
        )
        for dtype, metrics in s.get("per_type", {}).items():
            rows.append([str(s["split"]), dtype] + [_fmt(k, metrics[k]) for k, _ in COLUMNS])
    if "summary" in report:
        for stat in ("median", "mean", "std"):
            rows.append(
                [stat, "all", ""] + [_fmt(k, report["summary"][k][stat]) for k, _ in COLUMNS[1:]]
            )
        for dtype, summary in report.get("per_type_summary", {}).items():
            rows.append(
                ["median", dtype, ""] + [_fmt(k, summary[k]["median"]) for k, _ in COLUMNS[1:]]
            )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"dataset {report['dataset']} ({report['images']} images); pooling {report['pooling']['test_crops']}, "
        f"crop {report['pooling']['crop_size']}, resize {report['pooling']['resize']}; metrics vs 0-100 targets",
        "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)),
    ]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if "summary" in report:
        s = report["summary"]
        lines.append(
            f"over {len(report['splits'])} splits: SROCC median {s['srocc']['median']:.4f} "
            f"(mean {s['srocc']['mean']:.4f} ± {s['srocc']['std']:.4f}), PLCC(log5) median "
            f"{s['plcc_logistic5']['median']:.4f} (mean {s['plcc_logistic5']['mean']:.4f} ± "
            f"{s['plcc_logistic5']['std']:.4f})"
        )
    if len(report["splits"]) == 1 and report["splits"][0].get("srocc_ci95"):
        low, high = report["splits"][0]["srocc_ci95"]
        lines.append(f"SROCC 95 % bootstrap interval over the images: [{low:.4f}, {high:.4f}]")
    used = {t for s in report["splits"] for t in s.get("per_type", {})}
    if used and type_names:
        lines.append("types: " + "; ".join(f"{t} = {type_names.get(t, t)}" for t in sorted(used)))
    lines.append(
        "raw = on the predictions as they are; log5/log4 = after the 5-/4-parameter logistic fit"
    )
    return "\n".join(lines)


__all__ = [
    "METRIC_KEYS",
    "as_iqa_model",
    "evaluate_model",
    "evaluate_table",
    "format_report",
    "predict",
    "split_report",
]
