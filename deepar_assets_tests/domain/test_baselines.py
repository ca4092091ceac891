import numpy as np
import pytest

from deepar_assets.domain.baselines import seasonal_naive
from deepar_assets.errors import TrainingError


def test_seasonal_naive_repeats_last_year():
    history = np.arange(104, dtype=float)
    forecast = seasonal_naive(history, 13)
    np.testing.assert_array_equal(forecast, history[52:65])


@pytest.mark.parametrize("length", [10, 51, 60])
def test_falls_back_to_last_observed_value(length):
    history = np.arange(length, dtype=float)
    history[-1] = np.nan  # the last observed value is then length - 2
    forecast = seasonal_naive(history, 13)
    for step, value in enumerate(forecast):
        source = length - 52 + step
        expected = history[source] if 0 <= source < length and not np.isnan(history[source]) else length - 2
        assert value == expected


def test_no_history_raises():
    with pytest.raises(TrainingError):
        seasonal_naive(np.array([np.nan, np.nan]), 3)
