"""Paired comparison of two models' predictions of the same images.

Two routes cross-validated on the same split file predict every photo once (out of fold), so
their difference is best read *paired*: each bootstrap resample scores both on the same photos,
and the interval of ``metric(candidate) - metric(baseline)`` is much narrower than the two
separate intervals suggest. ``rankiqa train-head`` writes such predictions
(``RUN/predictions.csv``); any CSV with the columns ``image``, ``target`` and ``prediction``
works too.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> mos = {f"{k}.jpg": float(v) for k, v in enumerate(rng.normal(50, 15, size=300))}
>>> noisy = {k: v + 10 * rng.normal() for k, v in mos.items()}
>>> better = {k: v + 5 * rng.normal() for k, v in mos.items()}
>>> result = compare_predictions(noisy, better, mos, resamples=500)
>>> result["n"], result["difference"]["srocc_ci95"][0] > 0
(300, True)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rankiqa.core.errors import UserError
from rankiqa.evaluation.metrics import CI_RESAMPLES, bootstrap_interval, plcc, srocc

__all__ = ["PREDICTIONS_FILE", "Predictions", "compare_files", "compare_predictions",
           "format_comparison", "predictions_csv", "read_predictions"]

#: the name ``rankiqa train-head`` gives its out-of-fold (and lockbox) predictions in a run folder
PREDICTIONS_FILE = "predictions.csv"
#: the columns ``rankiqa train-head`` writes; a comparison needs the last three
PREDICTION_COLUMNS = ("part", "lockbox", "index", "image", "target", "prediction")
_COLUMNS = PREDICTION_COLUMNS[3:]
_METRICS = {"srocc": srocc, "plcc": plcc}

#: image id -> (target, prediction)
Predictions = dict[str, tuple[float, float]]


def predictions_csv(rows: Iterable[tuple[str, bool, int, str, float, float]]) -> str:
    """The text of a predictions file: one (part, lockbox, index, image, target, prediction)
    row per test photo, the format :func:`read_predictions` reads."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(PREDICTION_COLUMNS)
    for part, lockbox, index, image, target, prediction in rows:
        writer.writerow([part, int(lockbox), index, image, repr(target), repr(prediction)])
    return text.getvalue()


def read_predictions(path: str | Path, lockbox: bool = False) -> Predictions:
    """Predictions from a CSV file, or from a run folder's ``predictions.csv``.

    Rows with a ``lockbox`` column of 1 are the lockbox part's: they are read only with
    ``lockbox=True`` (and then only they), so that comparing cross-validation runs never reads
    the lockbox. Each image may appear once among the rows read.
    """
    path = Path(path)
    if path.is_dir():
        path = path / PREDICTIONS_FILE
    if not path.is_file():
        raise UserError(f"{path}: no such predictions file (rankiqa train-head writes "
                        f"RUN/{PREDICTIONS_FILE})")
    rows: Predictions = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}: not a predictions file (no column {', '.join(missing)})")
        for line, row in enumerate(reader, start=2):
            flag = (row.get("lockbox") or "0").strip()
            if flag not in ("0", "1"):
                raise UserError(f"{path}:{line}: lockbox must be 0 or 1")
            if flag != ("1" if lockbox else "0"):
                continue
            image = row["image"]
            if image in rows:
                raise UserError(f"{path}:{line}: {image} is predicted twice")
            try:
                rows[image] = (float(row["target"]), float(row["prediction"]))
            except ValueError:
                raise UserError(f"{path}:{line}: target and prediction must be numbers") from None
            if not all(np.isfinite(rows[image])):
                raise UserError(f"{path}:{line}: target and prediction must be finite")
    if len(rows) < 3:
        what = "lockbox rows" if lockbox else "rows outside the lockbox"
        raise UserError(f"{path}: {len(rows)} {what}; a comparison needs at least 3")
    return rows


def compare_predictions(
    baseline: Mapping[str, float],
    candidate: Mapping[str, float],
    targets: Mapping[str, float],
    resamples: int = CI_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """SROCC and PLCC of each model against ``targets`` with 95 % bootstrap intervals, and the
    paired interval of ``candidate - baseline``, on the images all three name (image id ->
    value). Refuses two prediction sets of different images: a comparison on part of them
    would not be the one asked for."""
    if set(baseline) != set(candidate):
        raise UserError(
            f"the two models predict different images ({len(baseline)} and {len(candidate)}, "
            f"{len(set(baseline) & set(candidate))} in common): compare runs of one split file")
    images = sorted(baseline)
    absent = [k for k in images if k not in targets]
    if absent:
        raise UserError(f"no target for {len(absent)} predicted images (e.g. {absent[0]})")
    y = np.array([targets[k] for k in images], dtype=float)
    a = np.array([baseline[k] for k in images], dtype=float)
    b = np.array([candidate[k] for k in images], dtype=float)
    result: dict[str, Any] = {"n": len(images), "resamples": resamples, "seed": seed}
    for name, pred in (("baseline", a), ("candidate", b)):
        result[name] = {}
        for key, metric in _METRICS.items():
            result[name][key] = metric(pred, y)
            result[name][f"{key}_ci95"] = list(bootstrap_interval(
                pred, y, metric=metric, resamples=resamples, seed=seed))
    result["difference"] = {}
    for key, metric in _METRICS.items():
        result["difference"][key] = result["candidate"][key] - result["baseline"][key]
        result["difference"][f"{key}_ci95"] = list(bootstrap_interval(
            b, y, baseline=a, metric=metric, resamples=resamples, seed=seed))
    return result


def compare_files(baseline: str | Path, candidate: str | Path, lockbox: bool = False,
                  resamples: int = CI_RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """:func:`compare_predictions` of two predictions files or run folders (their targets must
    agree: the same images of the same dataset)."""
    a, b = read_predictions(baseline, lockbox), read_predictions(candidate, lockbox)
    for image in set(a) & set(b):
        if not np.isclose(a[image][0], b[image][0], rtol=0, atol=1e-6):
            raise UserError(f"{image}: the two files give it different targets "
                            f"({a[image][0]} and {b[image][0]}): not the same dataset")
    result = compare_predictions({k: p for k, (_, p) in a.items()},
                                 {k: p for k, (_, p) in b.items()},
                                 {k: t for k, (t, _) in a.items()}, resamples=resamples,
                                 seed=seed)
    return {"baseline_file": str(baseline), "candidate_file": str(candidate),
            "lockbox": lockbox, **result}


def format_comparison(result: Mapping[str, Any]) -> str:
    """The comparison as a small text table (three decimals, 95 % intervals)."""
    part = "lockbox" if result.get("lockbox") else "outside the lockbox"
    lines = [f"{result['n']} images ({part}), {result['resamples']} paired bootstrap resamples",
             f"{'':12}{'SROCC [95 %]':<28}PLCC [95 %]"]
    for name in ("baseline", "candidate", "difference"):
        row = result[name]
        sign = "+" if name == "difference" else ""
        cells = [f"{row[k]:{sign}.3f} [{row[k + '_ci95'][0]:{sign}.3f}, "
                 f"{row[k + '_ci95'][1]:{sign}.3f}]" for k in _METRICS]
        lines.append(f"{name:<12}{cells[0]:<28}{cells[1]}")
    return "\n".join(lines)
