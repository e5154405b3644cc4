"""A run's metrics: ``RUN_DIR/metrics.csv`` (one row per step and split) and ``curves.png``.

>>> import tempfile
>>> log = MetricsLog(tempfile.mkdtemp())
>>> log.log(10, "train", loss=0.5)
>>> log.path.read_text().splitlines()
['step,split,loss', '10,train,0.5']
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from rankiqa.core.files import atomic_path

__all__ = [
    "MetricsLog",
]


class MetricsLog:
    """Metrics of a run in ``RUN_DIR/metrics.csv`` (columns ``step, split, <metric>...``) and a
    plot of the curves in ``RUN_DIR/curves.png``.

    Args:
        run_dir: the run directory (created).
        resume_step: when resuming, keep the existing rows up to this step (rows logged after
            the last checkpoint of a killed run are dropped); ``None`` starts a fresh file.
        enabled: ``False`` on non-main processes (nothing is written).
        columns: metric columns in the order they take in the file (after ``step, split``);
            metrics not listed are appended as they first appear.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike,
        resume_step: int | None = None,
        enabled: bool = True,
        columns: tuple[str, ...] = (),
    ):
        self.path = Path(run_dir) / "metrics.csv"
        self.plot_path = Path(run_dir) / "curves.png"
        self.enabled = enabled
        self.rows: list[dict[str, object]] = []
        self.columns: list[str] = ["step", "split", *columns]
        if not enabled:
            return
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                self.columns = list(reader.fieldnames or self.columns)
                self.rows = [r for r in reader if int(r["step"]) <= resume_step]
        self._rewrite()

    def _rewrite(self) -> None:
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)

    def log(self, step: int, split: str, **metrics: float) -> None:
        """Append one row (``split`` e.g. ``train`` / ``val``)."""
        if not self.enabled:
            return
        row: dict[str, object] = {"step": int(step), "split": split}
        row.update({k: (float(v) if v is not None else "") for k, v in metrics.items()})
        self.rows.append(row)
        new = [k for k in metrics if k not in self.columns]
        if new:
            self.columns += new
            self._rewrite()
            return
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.columns, restval="").writerow(row)

    def plot(self) -> Path | None:
        """Write ``curves.png``: one panel per metric that has values, one line per split."""
        if not self.enabled or not self.rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        metrics = [  # a metric without values (finetune's rank_loss with no ranking term): no panel
            c
            for c in self.columns
            if c not in ("step", "split") and any(r.get(c) not in ("", None) for r in self.rows)
        ]
        if not metrics:
            return None
        cols = min(3, len(metrics))
        nrows = math.ceil(len(metrics) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(4.5 * cols, 3.2 * nrows), squeeze=False)
        splits = list(dict.fromkeys(str(r["split"]) for r in self.rows))
        colors = {s: f"C{i}" for i, s in enumerate(sorted(splits))}
        for ax, name in zip(axes.flat, metrics, strict=False):
            for split in splits:
                pts = [
                    (int(r["step"]), float(r[name]))
                    for r in self.rows
                    if str(r["split"]) == split and r.get(name) not in ("", None)
                ]
                if pts:
                    xs, ys = zip(*pts, strict=True)
                    ax.plot(
                        xs,
                        ys,
                        label=split,
                        color=colors[split],
                        marker="." if len(pts) < 30 else None,
                    )
            ax.set_title(name)
            ax.set_xlabel("iteration")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        for ax in list(axes.flat)[len(metrics) :]:
            ax.axis("off")
        fig.tight_layout()
        with atomic_path(self.plot_path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        return self.plot_path
