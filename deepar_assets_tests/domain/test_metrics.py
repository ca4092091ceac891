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


def test_wmae_weights_flagged_periods():
    y = np.array([[10.0, 10.0]])
    f = np.array([[12.0, 11.0]])
    per_period = np.array([5.0, 1.0])  # e.g. a holiday week × 5, as the Walmart spec declares
    assert metrics.wmae(y, f, per_period) == pytest.approx((5 * 2 + 1 * 1) / 6)
    assert metrics.wmae(y, f, per_period[None, :]) == metrics.wmae(y, f, per_period)


def test_wmae_broadcasts_period_weights_over_series_and_skips_missing():
    rng = np.random.default_rng(3)
    y = rng.normal(50, 10, size=(4, 6))
    y[1, 2] = np.nan
    f = y + rng.normal(0, 3, size=y.shape)
    weights = rng.uniform(0.5, 4.0, size=6)
    full = np.broadcast_to(weights, y.shape)
    mask = ~np.isnan(y)
    expected = np.sum(full[mask] * np.abs(y - f)[mask]) / np.sum(full[mask])
    assert metrics.wmae(y, f, weights) == pytest.approx(expected)


@pytest.mark.parametrize("weights", [None, 1.0, np.ones(3)])
def test_wmae_without_weights_is_plain_mae(weights):
    y = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    f = np.array([[2.0, 9.0, 1.0], [4.0, 7.0, 6.5]])
    mae = (1 + 2 + 0 + 2 + 0.5) / 5
    assert metrics.wmae(y, f, weights) == pytest.approx(mae)
    assert metrics.mae(y, f) == pytest.approx(mae)


def test_wmae_refuses_weights_that_do_not_broadcast():
    with pytest.raises(ValueError, match="does not broadcast"):
        metrics.wmae(np.zeros((2, 3)), np.zeros((2, 3)), np.ones(4))
    with pytest.raises(TrainingError, match="non-negative"):
        metrics.wmae(np.ones((1, 2)), np.zeros((1, 2)), np.array([1.0, -1.0]))


def test_mase_known_answer():
    history = [np.arange(60, dtype=float)]  # seasonal naive error in sample is 52 every week
    y = np.array([[60.0, 61.0]])
    f = np.array([[62.0, 61.0]])
    assert metrics.mase(y, f, history, season=52) == pytest.approx(1.0 / 52)


@pytest.mark.parametrize("season", [1, 7, 12])
def test_mase_uses_the_given_season(season):
    history = [np.arange(40, dtype=float)]  # the lag-`season` in-sample error is `season`
    y = np.array([[40.0, 41.0]])
    f = np.array([[43.0, 41.0]])
    assert metrics.mase(y, f, history, season=season) == pytest.approx(1.5 / season)
    with pytest.raises(ValueError, match="season must be at least 1"):
        metrics.mase(y, f, history, season=0)


def test_mase_is_aggregated_over_series_so_a_near_constant_one_does_not_dominate():
    """Series a: in-sample lag-52 error 52, errors 2 + 0 over 2 periods (ratio 1/52). Series b
    is nearly constant: lag-52 error 0.052, errors 1 + 1 (ratio 1/0.052 = 19.2). A mean of the
    ratios would be about 9.6; aggregated, MASE = (2 + 2) / (2·52 + 2·0.052)."""
    t = np.arange(60, dtype=float)
    history = [t, 10 + 0.001 * t]
    y = np.array([[60.0, 61.0], [10.060, 10.061]])
    f = np.array([[62.0, 61.0], [11.060, 11.061]])
    assert metrics.mase(y, f, history, season=52) == pytest.approx(4 / (2 * 52 + 2 * 0.052))
    # A series with a missing actual counts its observed periods only: (2 + 1) / (2·52 + 1·0.052).
    y[1, 1] = np.nan
    assert metrics.mase(y, f, history, season=52) == pytest.approx(3 / (2 * 52 + 0.052))


def test_undefined_metrics_raise_instead_of_reporting_zero():
    with pytest.raises(TrainingError, match="every actual is missing"):
        metrics.rmse(np.array([[np.nan]]), np.array([[1.0]]))
    with pytest.raises(TrainingError, match="every observed actual is 0"):
        metrics.weighted_quantile_loss(np.array([[0.0]]), np.array([[1.0]]), 0.5)
    with pytest.raises(TrainingError, match="NaN"):
        metrics.weighted_quantile_loss(np.array([[1.0]]), np.array([[np.nan]]), 0.5)
    with pytest.raises(ValueError, match="shape"):
        metrics.rmse(np.zeros((2, 3)), np.zeros((3, 2)))
