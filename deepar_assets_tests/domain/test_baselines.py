import numpy as np
import pytest

from deepar_assets.domain.baselines import seasonal_naive
from deepar_assets.errors import TrainingError


def test_seasonal_naive_repeats_last_year():
    history = np.arange(104, dtype=float)
    forecast = seasonal_naive(history, 13, season=52)
    np.testing.assert_array_equal(forecast, history[52:65])


@pytest.mark.parametrize("length", [10, 51, 60])
def test_falls_back_to_last_observed_value(length):
    history = np.arange(length, dtype=float)
    history[-1] = np.nan  # the last observed value is then length - 2
    forecast = seasonal_naive(history, 13, season=52)
    for step, value in enumerate(forecast):
        source = length - 52 + step
        expected = history[source] if 0 <= source < length and not np.isnan(history[source]) else length - 2
        assert value == expected


@pytest.mark.parametrize(("season", "horizon"), [(7, 28), (12, 12), (24, 48), (7, 3), (1, 5)])
def test_a_horizon_longer_than_the_season_repeats_the_last_season(season, horizon):
    history = np.arange(100, dtype=float)
    forecast = seasonal_naive(history, horizon, season=season)
    last_season = history[-season:]
    np.testing.assert_array_equal(forecast, np.resize(last_season, horizon))


def test_the_season_is_required_and_positive():
    with pytest.raises(TypeError):
        seasonal_naive(np.ones(10), 3)  # no default season: it comes from the spec
    with pytest.raises(ValueError, match="season must be at least 1"):
        seasonal_naive(np.ones(10), 3, season=0)


def test_no_history_raises():
    with pytest.raises(TrainingError):
        seasonal_naive(np.array([np.nan, np.nan]), 3, season=2)
