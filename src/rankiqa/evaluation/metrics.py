"""IQA agreement metrics between predictions and subjective scores.

* SROCC (Spearman) and KROCC (Kendall tau-b): rank agreement, invariant to any monotonic
  mapping, computed on the raw predictions.
* PLCC (Pearson) and RMSE, each reported twice:

  - ``*_raw``: on the predictions as they are (meaningful for RMSE only when predictions and
    scores share a scale, e.g. a fine-tuned model's 0–100 output against 0–100 targets);
  - ``*_logistic5``: after mapping the predictions with the 5-parameter logistic of
    Sheikh et al. (2006), fitted by least squares on the evaluated set —
    ``f(x) = b1 (1/2 − 1/(1 + exp(b2 (x − b3)))) + b4 x + b5``;
  - ``*_logistic4``: after the 4-parameter logistic of the VQEG report (2003) —
    ``f(x) = (b1 − b2) / (1 + exp(−(x − b3) / |b4|)) + b2``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

METRIC_KEYS = (
    "srocc",
    "krocc",
    "plcc_raw",
    "rmse_raw",
    "plcc_logistic5",
    "rmse_logistic5",
    "plcc_logistic4",
    "rmse_logistic4",
)


def _pair(pred: Sequence[float], mos: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(pred, dtype=np.float64).ravel()
    y = np.asarray(mos, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"{x.size} predictions for {y.size} scores")
    return x, y


def _degenerate(x: np.ndarray, y: np.ndarray) -> bool:
    return x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0


def srocc(pred: Sequence[float], mos: Sequence[float]) -> float:
    """Spearman rank-order correlation (NaN when either side is constant)."""
    x, y = _pair(pred, mos)
    return math.nan if _degenerate(x, y) else float(stats.spearmanr(x, y).statistic)


def krocc(pred: Sequence[float], mos: Sequence[float]) -> float:
    """Kendall rank-order correlation, tau-b (NaN when either side is constant)."""
    x, y = _pair(pred, mos)
    return math.nan if _degenerate(x, y) else float(stats.kendalltau(x, y).statistic)


def plcc(pred: Sequence[float], mos: Sequence[float]) -> float:
    """Pearson linear correlation of the raw values (NaN when either side is constant)."""
    x, y = _pair(pred, mos)
    return math.nan if _degenerate(x, y) else float(stats.pearsonr(x, y).statistic)


def rmse(pred: Sequence[float], mos: Sequence[float]) -> float:
    """Root mean squared error of the raw values."""
    x, y = _pair(pred, mos)
    return float(np.sqrt(np.mean((x - y) ** 2))) if x.size else math.nan


def logistic5(x: np.ndarray, b1: float, b2: float, b3: float, b4: float, b5: float) -> np.ndarray:
    """Sheikh et al. (2006): ``b1 (1/2 − 1/(1 + exp(b2 (x − b3)))) + b4 x + b5``."""
    z = np.clip(b2 * (np.asarray(x, dtype=np.float64) - b3), -500, 500)
    return b1 * (0.5 - 1.0 / (1.0 + np.exp(z))) + b4 * x + b5


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """VQEG (2003): ``(b1 − b2) / (1 + exp(−(x − b3) / |b4|)) + b2``."""
    z = np.clip(-(np.asarray(x, dtype=np.float64) - b3) / (abs(b4) + 1e-12), -500, 500)
    return (b1 - b2) / (1.0 + np.exp(z)) + b2


@dataclass(frozen=True)
class LogisticFit:
    """A fitted monotonic mapping from predictions to the subjective scale."""

    kind: str  #: "logistic5" or "logistic4"
    params: tuple[float, ...]
    converged: bool

    def __call__(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not self.converged:
            return np.full_like(x, np.nan)
        fn = logistic5 if self.kind == "logistic5" else logistic4
        return fn(x, *self.params)


def fit_logistic(
    pred: Sequence[float], mos: Sequence[float], kind: str = "logistic5"
) -> LogisticFit:
    """Least-squares fit of ``mos ≈ f(pred)`` (``kind``: ``logistic5`` or ``logistic4``).

    The fit runs on standardised predictions (for conditioning) from several starting points;
    the parameters returned are for the original prediction scale.
    """
    if kind not in ("logistic5", "logistic4"):
        raise ValueError(f"unknown logistic {kind!r}")
    x, y = _pair(pred, mos)
    n_params = 5 if kind == "logistic5" else 4
    if _degenerate(x, y) or x.size < n_params:
        return LogisticFit(kind, (math.nan,) * n_params, False)
    m, s = float(x.mean()), float(x.std())
    z = (x - m) / s
    sign = 1.0 if stats.spearmanr(x, y).statistic >= 0 else -1.0
    span, ymin, ymax, ymean = float(np.ptp(y)), float(y.min()), float(y.max()), float(y.mean())
    if kind == "logistic5":
        fn = logistic5
        starts = [
            [-sign * span * f, g, c, 0.0, ymean]
            for f in (1.0, 2.0)
            for g in (1.0, 3.0, 10.0)
            for c in (0.0, -1.0, 1.0)
        ]
    else:
        fn = logistic4
        lo, hi = (ymin, ymax) if sign > 0 else (ymax, ymin)
        starts = [
            [hi + (hi - lo) * e, lo - (hi - lo) * e, c, w]
            for e in (0.0, 0.5)
            for w in (1.0, 0.3)
            for c in (0.0, -1.0, 1.0)
        ]
    best, best_sse = None, math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p0 in starts:
            try:
                params, _ = optimize.curve_fit(fn, z, y, p0=p0, maxfev=20000)
            except (RuntimeError, ValueError, optimize.OptimizeWarning):
                continue
            sse = float(np.sum((fn(z, *params) - y) ** 2))
            if np.isfinite(sse) and sse < best_sse:
                best, best_sse = params, sse
    if best is None:
        return LogisticFit(kind, (math.nan,) * n_params, False)
    if kind == "logistic5":
        b1, b2, b3, b4, b5 = (float(v) for v in best)
        params = (b1, b2 / s, m + s * b3, b4 / s, b5 - b4 * m / s)
    else:
        b1, b2, b3, b4 = (float(v) for v in best)
        params = (b1, b2, m + s * b3, abs(b4) * s)
    return LogisticFit(kind, params, True)


def iqa_metrics(pred: Sequence[float], mos: Sequence[float]) -> dict[str, float]:
    """All metrics of the module docstring (keys :data:`METRIC_KEYS`, plus ``n``)."""
    x, y = _pair(pred, mos)
    out: dict[str, float] = {
        "n": int(x.size),
        "srocc": srocc(x, y),
        "krocc": krocc(x, y),
        "plcc_raw": plcc(x, y),
        "rmse_raw": rmse(x, y),
    }
    for kind in ("logistic5", "logistic4"):
        fitted = fit_logistic(x, y, kind)(x)
        ok = bool(np.all(np.isfinite(fitted)))
        out[f"plcc_{kind}"] = plcc(fitted, y) if ok else math.nan
        out[f"rmse_{kind}"] = rmse(fitted, y) if ok else math.nan
    return out


def summarise(
    results: Iterable[dict[str, float]], keys: Sequence[str] = METRIC_KEYS
) -> dict[str, dict[str, float]]:
    """Median, mean and (population) standard deviation of each metric over splits (NaN-aware)."""
    results = list(results)
    summary = {}
    for key in keys:
        values = np.array([r[key] for r in results if key in r], dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            summary[key] = {"median": math.nan, "mean": math.nan, "std": math.nan, "count": 0}
            continue
        summary[key] = {
            "median": float(np.median(values)),
            "mean": float(values.mean()),
            "std": float(values.std()),
            "count": int(values.size),
        }
    return summary


#: resamples of the SROCC bootstrap interval reports carry (~1 s for 200 images)
CI_RESAMPLES = 1000
#: fewer test images than this get no interval in reports
CI_MIN_IMAGES = 10


def bootstrap_interval(
    pred: Sequence[float],
    mos: Sequence[float],
    baseline: Sequence[float] | None = None,
    metric: Callable[[Sequence[float], Sequence[float]], float] = srocc,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric(pred, mos)`` over the images (resampled with
    replacement, ``resamples`` times; :func:`scipy.stats.bootstrap`): how far a test set of
    this size lets the number move. With ``baseline`` (another model's predictions of the same
    images), the interval of the *paired difference* ``metric(pred) - metric(baseline)``, each
    resample scoring both models on the same images.

    >>> rng = np.random.default_rng(0)
    >>> mos = rng.normal(size=200)
    >>> pred = mos + rng.normal(size=200)
    >>> low, high = bootstrap_interval(pred, mos)
    >>> bool(low < srocc(pred, mos) < high), bool(high - low < 0.2)
    (True, True)
    >>> low, high = bootstrap_interval(pred, mos, baseline=pred + 0.01 * rng.normal(size=200))
    >>> bool(low < 0 < high)
    True
    """
    x, y = _pair(pred, mos)
    if baseline is None:
        data: tuple[np.ndarray, ...] = (x, y)

        def statistic(x: np.ndarray, y: np.ndarray) -> float:
            return metric(x, y)
    else:
        b, _ = _pair(baseline, mos)
        data = (x, b, y)

        def statistic(x: np.ndarray, b: np.ndarray, y: np.ndarray) -> float:  # type: ignore[misc]
            return metric(x, y) - metric(b, y)
    result = stats.bootstrap(
        data, statistic, paired=True, vectorized=False, n_resamples=resamples,
        confidence_level=level, method="percentile", random_state=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
