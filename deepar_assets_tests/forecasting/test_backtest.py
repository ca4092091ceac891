"""deepar_assets.domain.backtest: baselines (seasonal naive and statsforecast's models, fitted
for real), scores, breakdowns, the series where DeepAR loses, and the gate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from deepar_assets.domain import backtest as bt
from deepar_assets.domain import metrics
from deepar_assets.domain.baselines import seasonal_naive

H = 4


def _seasonal(n: int, level: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level * (1 + 0.3 * np.sin(2 * np.pi * t / 52)) + rng.normal(0, level * 0.02, n)


def test_fill_history_interpolates_inside_carries_the_end_and_drops_the_start():
    history = np.array([np.nan, np.nan, 1.0, np.nan, 3.0, 4.0, np.nan])
    np.testing.assert_array_equal(bt.fill_history(history), [1.0, 2.0, 3.0, 4.0, 4.0])


def test_seasonal_naive_baseline_is_the_point_at_every_quantile():
    histories = [_seasonal(70, 1000, 1), _seasonal(30, 50, 2)]
    result = bt.baseline_forecasts(histories, H, bt.SEASONAL_NAIVE)
    np.testing.assert_array_equal(result.forecast["mean"][0], seasonal_naive(histories[0], H))
    for key in bt.quantile_keys():
        np.testing.assert_array_equal(result.forecast[key], result.forecast["mean"])
    assert not bt.has_interval(result.forecast)


@pytest.mark.parametrize("name", bt.STATISTICAL_BASELINES)
def test_statistical_baselines_fit_each_series_and_fall_back_where_they_cannot(name):
    histories = [_seasonal(120, 1000, 3), _seasonal(80, 200, 4), np.array([5.0, 6.0])]
    histories[1][[10, 11, 40]] = np.nan
    result = bt.baseline_forecasts(histories, H, name)
    forecast = result.forecast
    assert set(forecast) == {"mean", *bt.quantile_keys()}
    assert all(v.shape == (3, H) and np.isfinite(v).all() for v in forecast.values())
    quantiles = np.stack([forecast[k] for k in bt.quantile_keys()])
    assert (np.diff(quantiles[:, :2], axis=0) >= -1e-9).all(), "quantiles must not cross"
    assert (forecast["p90"][:2] > forecast["p10"][:2]).all(), "a statistical model gives an interval"
    assert result.fallbacks == [2] and "tiny datasets" in result.errors[2]
    np.testing.assert_array_equal(forecast["mean"][2], seasonal_naive(histories[2], H))
    # A model fitted on a level of 1000 forecasts around it.
    assert 600 < forecast["mean"][0].mean() < 1500


def test_unknown_baseline_is_refused():
    with pytest.raises(ValueError, match="baseline 'Prophet': choose from"):
        bt.baseline_forecasts([np.ones(10)], H, "Prophet")


def test_score_matches_the_metric_definitions_and_counts_coverage():
    actual = np.array([[10.0, 20.0, np.nan, 40.0], [5.0, 5.0, 5.0, 5.0]])
    point = np.array([[12.0, 18.0, 30.0, 40.0], [4.0, 6.0, 5.0, 9.0]])
    holiday = np.array([[False, True, False, False], [False, False, False, True]])
    forecast = {"mean": point, **{k: point for k in bt.quantile_keys()}}
    forecast["p10"], forecast["p90"] = point - 1.5, point + 1.5
    histories = [np.arange(60.0), np.arange(60.0) % 7]
    scores = bt.score(actual, forecast, holiday, histories)
    assert scores["WMAE"] == pytest.approx(metrics.wmae(actual, point, holiday))
    assert scores["RMSE"] == pytest.approx(metrics.rmse(actual, point))
    assert scores["MASE"] == pytest.approx(metrics.mase(actual, point, histories))
    # Inside [p - 1.5, p + 1.5], of the 7 observed weeks: series 0 week 3 (weeks 0 and 1 are 2 off),
    # series 1 weeks 0, 1 and 2 (week 3 is 4 off).
    assert scores["coverage_80"] == pytest.approx(4 / 7)
    naive = bt.score(actual, {"mean": point}, holiday, histories)
    assert math.isnan(naive["coverage_80"])


def test_per_series_wmae_weighs_holidays_five_times():
    actual = np.array([[10.0, 10.0], [np.nan, np.nan]])
    point = np.array([[11.0, 13.0], [1.0, 1.0]])
    holiday = np.array([[False, True], [False, False]])
    values = bt.per_series_wmae(actual, point, holiday)
    assert values[0] == pytest.approx((1 * 1 + 5 * 3) / 6) and math.isnan(values[1])


def _window() -> bt.Window:
    """Three series over one window, where DeepAR is good on two and bad on the third."""
    actual = np.array([[100.0] * H, [50.0] * H, [10.0] * H])
    keys = pd.DataFrame({"Store": [1, 1, 2], "Dept": [1, 2, 1], "Type": ["A", "A", "B"]})
    deepar = actual + np.array([[1.0], [2.0], [9.0]])
    naive = actual + np.array([[20.0], [10.0], [3.0]])
    interval = {"p10": deepar - 5, "p90": deepar + 5, **{k: deepar for k in bt.quantile_keys() if k not in ("p10", "p90")}}
    return bt.Window(
        keys=keys,
        origins=np.array(["2012-01-06"] * 3),
        actual=actual,
        holiday=np.zeros_like(actual, dtype=bool),
        histories=[np.arange(60.0) + 1] * 3,
        forecasts={
            bt.DEEPAR: {"mean": deepar, **interval},
            bt.SEASONAL_NAIVE: {"mean": naive, **{k: naive for k in bt.quantile_keys()}},
        },
    )


def test_losers_are_exactly_the_series_where_deepar_is_worse():
    window = _window()
    overall = window.scores()
    assert list(overall.index) == [bt.DEEPAR, bt.SEASONAL_NAIVE]
    assert bt.best_baseline(overall) == bt.SEASONAL_NAIVE
    losing = bt.losers(window, bt.SEASONAL_NAIVE)
    assert losing[["Store", "Dept", "Type"]].to_dict("records") == [{"Store": 2, "Dept": 1, "Type": "B"}]
    assert losing["deepar_WMAE"].iloc[0] == pytest.approx(9.0) and losing["seasonal_naive_WMAE"].iloc[0] == pytest.approx(3.0)
    assert losing["excess_pct"].iloc[0] == pytest.approx(200.0)


def test_losers_pool_every_origin_of_a_series():
    first, second = _window(), _window()
    second.forecasts[bt.DEEPAR]["mean"] = second.actual.copy()  # perfect at the second origin
    second.origins = np.array(["2012-02-03"] * 3)
    stacked = bt.Window.stack([first, second])
    assert len(stacked.keys) == 6
    losing = bt.losers(stacked, bt.SEASONAL_NAIVE)
    # Series (2, 1): DeepAR 9 then 0 (4.5 on average), seasonal naive 3 and 3: still loses.
    assert losing[["Store", "Dept"]].to_dict("records") == [{"Store": 2, "Dept": 1}]
    assert losing["deepar_WMAE"].iloc[0] == pytest.approx(4.5)


def test_breakdown_by_store_type():
    frame = bt.breakdown(_window(), "Type")
    assert frame["Type"].tolist() == ["A", "B"]
    assert frame["series"].tolist() == [2, 1]
    a, b = frame.iloc[0], frame.iloc[1]
    assert a[bt.DEEPAR] == pytest.approx(1.5) and a[bt.SEASONAL_NAIVE] == pytest.approx(15.0) and a["best"] == bt.DEEPAR
    assert b["best"] == bt.SEASONAL_NAIVE and b["deepar_vs_best_baseline_pct"] == pytest.approx(200.0)


def _card(model: float, naive: float) -> dict:
    return {
        "model_id": "m1",
        "engine": "local",
        "evaluation": {
            "scored_on": "validation window: the last 4 weeks",
            "metrics": {
                "model": {"WMAE": model, "RMSE": 2 * model},
                "seasonal_naive": {"WMAE": naive, "RMSE": 2 * naive},
            },
        },
    }


def test_the_gate_passes_a_model_that_beats_seasonal_naive():
    outcome = bt.gate(_card(80.0, 100.0))
    assert outcome.passed
    assert outcome.description == "model m1 beats seasonal naive on validation window: the last 4 weeks: WMAE 80 vs 100 (-20.0 %)"
    assert outcome.figures["model WMAE"] == 80.0 and outcome.figures["seasonal_naive RMSE"] == 200.0


@pytest.mark.parametrize("model", [100.0, 130.0, float("nan")])
def test_the_gate_fails_a_model_that_does_not_beat_it_and_says_why(model):
    outcome = bt.gate(_card(model, 100.0))
    assert not outcome.passed
    if math.isnan(model):
        assert "is not finite" in outcome.description
    else:
        assert "does not beat seasonal naive" in outcome.description and "refuse this model" in outcome.description
        assert f"WMAE {model:g} vs seasonal naive's 100" in outcome.description


def test_the_gate_fails_a_card_without_validation_scores():
    outcome = bt.gate({"model_id": "sm1", "engine": "sagemaker"})
    assert not outcome.passed
    assert "sm1 (sagemaker engine) has no WMAE of its own and of seasonal naive on the validation window" in outcome.description


def test_fitting_in_processes_gives_the_same_forecasts_and_fallbacks():
    histories = [_seasonal(60 + i % 40, 100 + i, i) for i in range(bt.PARALLEL_FROM)]
    histories[7] = np.array([3.0, 4.0])
    alone = bt.baseline_forecasts(histories, H, "AutoETS")
    pooled = bt.baseline_forecasts(histories, H, "AutoETS", workers=2)
    for key in alone.forecast:
        np.testing.assert_allclose(pooled.forecast[key], alone.forecast[key])
    assert pooled.fallbacks == alone.fallbacks == [7]
