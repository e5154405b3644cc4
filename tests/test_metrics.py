"""IQA metrics against SciPy, hand-worked values and known logistic parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rankiqa.evaluation.metrics import (
    METRIC_KEYS,
    bootstrap_interval,
    fit_logistic,
    iqa_metrics,
    krocc,
    logistic4,
    logistic5,
    plcc,
    rmse,
    srocc,
    summarise,
)


def test_hand_worked_values():
    pred = [1, 2, 3, 4]
    mos = [1, 3, 2, 4]
    # Spearman: d = (0, -1, 1, 0), 1 - 6*2/(4*15) = 0.8
    assert srocc(pred, mos) == pytest.approx(0.8)
    # Kendall: 5 concordant, 1 discordant pair of 6 → 4/6
    assert krocc(pred, mos) == pytest.approx(4 / 6)
    # Pearson: same as Spearman here (values are ranks)
    assert plcc(pred, mos) == pytest.approx(0.8)
    assert rmse([0, 0, 0, 0], [1, -1, 3, -3]) == pytest.approx(math.sqrt(5))
    assert srocc([3, 2, 1], [1, 2, 3]) == pytest.approx(-1.0)


def test_against_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = np.tanh(x) * 3 + rng.normal(scale=0.5, size=200)
    assert srocc(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert krocc(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
    assert plcc(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)
    assert rmse(x, y) == pytest.approx(np.sqrt(np.mean((x - y) ** 2)))
    assert math.isnan(srocc([1, 1, 1], [1, 2, 3]))


@pytest.mark.parametrize("true", [(-80.0, 0.9, 4.0, 0.5, 50.0), (60.0, -1.5, -2.0, 0.0, 40.0)])
def test_logistic5_recovers_parameters(true):
    x = np.linspace(-5, 12, 120)
    y = logistic5(x, *true)
    fit = fit_logistic(x, y, "logistic5")
    assert fit.converged
    np.testing.assert_allclose(fit(x), y, atol=1e-4)
    # the parameterisation has a symmetry (b1, b2) ↔ (−b1, −b2); compare in canonical form
    params = np.array(fit.params)
    if np.sign(params[1]) != np.sign(true[1]):
        params[:2] *= -1
    np.testing.assert_allclose(params, true, rtol=1e-3, atol=1e-3)


def test_logistic4_recovers_parameters():
    true = (90.0, 10.0, 0.3, 0.8)
    x = np.linspace(-4, 4, 80)
    y = logistic4(x, *true)
    fit = fit_logistic(x * 1.0, y, "logistic4")
    assert fit.converged
    np.testing.assert_allclose(fit.params, true, rtol=1e-3, atol=1e-3)
    # on a scale far from 1 (the fit standardises internally)
    fit = fit_logistic(x * 1000 + 5000, y, "logistic4")
    np.testing.assert_allclose(fit.params, (90.0, 10.0, 5300.0, 800.0), rtol=1e-3)


def test_iqa_metrics_logistic_improves_plcc():
    rng = np.random.default_rng(1)
    mos = rng.uniform(0, 100, 300)
    pred = np.exp(mos / 25.0) + rng.normal(scale=0.5, size=300)  # monotonic, very non-linear
    m = iqa_metrics(pred, mos)
    assert set(METRIC_KEYS) <= set(m) and m["n"] == 300
    assert m["srocc"] > 0.95
    assert m["plcc_logistic5"] > m["plcc_raw"] + 0.02
    assert m["rmse_logistic5"] < 10 < m["rmse_raw"]
    assert m["plcc_logistic4"] > m["plcc_raw"]
    # a negative relation is fitted as well (DMOS-like)
    m = iqa_metrics(-pred, mos)
    assert m["srocc"] < -0.95 and m["plcc_logistic5"] > 0.95


def test_summarise():
    rows = [{"srocc": v} for v in (0.5, 0.7, 0.9, math.nan)]
    s = summarise(rows, keys=("srocc",))["srocc"]
    assert s["median"] == pytest.approx(0.7)
    assert s["mean"] == pytest.approx(0.7)
    assert s["std"] == pytest.approx(np.std([0.5, 0.7, 0.9]))
    assert s["count"] == 3


def _noisy(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mos = rng.normal(size=n)
    return mos + noise * rng.normal(size=n), mos


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_more_images():
    widths = []
    for n in (50, 800):
        pred, mos = _noisy(n, 1.0, seed=n)
        low, high = bootstrap_interval(pred, mos, resamples=500)
        assert low < srocc(pred, mos) < high
        widths.append(high - low)
    # the width of a correlation's interval falls roughly as 1/sqrt(n): 4x fewer at 16x images
    assert widths[1] < widths[0] / 2.5
    pred, mos = _noisy(200, 1.0, seed=0)
    assert bootstrap_interval(pred, mos, metric=plcc, resamples=300, seed=3) == bootstrap_interval(
        pred, mos, metric=plcc, resamples=300, seed=3)


def test_paired_bootstrap_difference_of_two_models():
    pred, mos = _noisy(300, 0.5, seed=1)
    worse = mos + 1.5 * np.random.default_rng(2).normal(size=300)
    low, high = bootstrap_interval(pred, mos, baseline=worse, resamples=500)
    assert 0 < low < srocc(pred, mos) - srocc(worse, mos) < high
    assert bootstrap_interval(pred, mos, baseline=pred, resamples=200) == (0.0, 0.0)
    with pytest.raises(ValueError):
        bootstrap_interval(pred, mos, baseline=worse[:10])
