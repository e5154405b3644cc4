"""Scatter plot of predictions against subjective scores, with the fitted logistic (PNG)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rankiqa.core.files import atomic_path
from rankiqa.data.iqa.records import IQATable
from rankiqa.evaluation.metrics import fit_logistic, iqa_metrics


def scatter_plot(
    pred: Sequence[float],
    target: Sequence[float],
    path: str | os.PathLike,
    title: str = "",
    labels: Sequence[str | None] | None = None,
) -> Path:
    """Write a PNG: predictions (x) vs 0–100 targets (y), the 5-parameter logistic fit, and
    SROCC / PLCC in the legend. ``labels`` (e.g. distortion types) colour the points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(pred, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    metrics = iqa_metrics(x, y)
    fig, ax = plt.subplots(figsize=(6, 5))
    if labels is not None and any(labels):
        for label in sorted({str(v) for v in labels}):
            mask = np.array([str(v) == label for v in labels])
            ax.scatter(x[mask], y[mask], s=10, alpha=0.6, label=label)
    else:
        ax.scatter(x, y, s=10, alpha=0.5, label="images")
    fit = fit_logistic(x, y, "logistic5")
    if fit.converged and x.size:
        grid = np.linspace(x.min(), x.max(), 200)
        ax.plot(grid, fit(grid), color="black", lw=2, label="5-parameter logistic fit")
    ax.set_xlabel("prediction")
    ax.set_ylabel("subjective score (0-100, higher is better)")
    ax.set_title(
        f"{title}\nSROCC {metrics['srocc']:.3f}  PLCC raw {metrics['plcc_raw']:.3f}  "
        f"PLCC log5 {metrics['plcc_logistic5']:.3f}  (n={metrics['n']})".strip()
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", markerscale=1.5, ncol=2 if labels is not None else 1)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


def plot_report(
    report: dict[str, Any], table: IQATable, path: str | os.PathLike, title: str = ""
) -> Path:
    """:func:`scatter_plot` of an evaluation report's predictions, coloured by distortion type
    where the dataset has types (``report`` from :func:`~rankiqa.evaluation.protocol.evaluate_model`)."""
    predictions = report["predictions"]
    labels = [table.records[i].distortion for i in predictions["index"]]
    return scatter_plot(
        predictions["prediction"],
        predictions["target"],
        path,
        title=title,
        labels=labels if any(labels) else None,
    )
