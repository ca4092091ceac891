import numpy as np
import pytest

from deepar_assets.domain import metrics
from deepar_assets.errors import TrainingError


def test_quantile_loss_by_hand():
    y = np.array([[10.0, 20.0]])
    q = np.array([[12.0, 15.0]])
    # tau=0.9: point 1 over-forecast by 2 -> 0.1*2 = 0.2; point 2 under by 5 -> 0.9*5 = 4.5
    assert metrics.quantile_loss(y, q, 0.9) == pytest.approx(4.7)
    # wQuantileLoss = 2 * 4.7 / (10 + 20)
    assert metrics.weighted_quantile_loss(y, q, 0.9) == pytest.approx(9.4 / 30)


def test_mean_wquantileloss_is_mean_over_quantiles():
    y = np.array([[10.0, -2.0, np.nan]])
    q1 = np.array([[8.0, 0.0, 100.0]])
    q9 = np.array([[14.0, 1.0, 100.0]])
    # NaN actuals are left out; sum |y| = 12
    w1 = 2 * (0.1 * 2 + 0.9 * 2) / 12
    w9 = 2 * (0.1 * 4 + 0.1 * 3) / 12
    assert metrics.mean_weighted_quantile_loss(y, {0.1: q1, 0.9: q9}) == pytest.approx((w1 + w9) / 2)


def test_perfect_forecast_scores_zero_and_median_equals_half_mae_ratio():
    rng = np.random.default_rng(0)
    y = rng.normal(100, 10, size=(5, 13))
    assert metrics.weighted_quantile_loss(y, y, 0.5) == 0
    f = y + 3
    # at tau=0.5 the weighted quantile loss is sum|e| / sum|y|
    assert metrics.weighted_quantile_loss(y, f, 0.5) == pytest.approx(np.abs(f - y).sum() / np.abs(y).sum())


def test_rmse_skips_missing():
    y = np.array([[1.0, np.nan, 3.0]])
    f = np.array([[2.0, 50.0, 1.0]])
    assert metrics.rmse(y, f) == pytest.approx(np.sqrt((1 + 4) / 2))


def test_wmae_weights_holidays_five_times():
    y = np.array([[10.0, 10.0]])
    f = np.array([[12.0, 11.0]])
    holiday = np.array([[True, False]])
    assert metrics.wmae(y, f, holiday) == pytest.approx((5 * 2 + 1 * 1) / 6)


def test_mase_known_answer():
    history = [np.arange(60, dtype=float)]  # seasonal naive error in sample is 52 every week
    y = np.array([[60.0, 61.0]])
    f = np.array([[62.0, 61.0]])
    assert metrics.mase(y, f, history) == pytest.approx(1.0 / 52)


def test_undefined_metrics_raise_instead_of_reporting_zero():
    with pytest.raises(TrainingError, match="every actual is missing"):
        metrics.rmse(np.array([[np.nan]]), np.array([[1.0]]))
    with pytest.raises(TrainingError, match="every observed actual is 0"):
        metrics.weighted_quantile_loss(np.array([[0.0]]), np.array([[1.0]]), 0.5)
    with pytest.raises(TrainingError, match="NaN"):
        metrics.weighted_quantile_loss(np.array([[1.0]]), np.array([[np.nan]]), 0.5)
    with pytest.raises(ValueError, match="shape"):
        metrics.rmse(np.zeros((2, 3)), np.zeros((3, 2)))
