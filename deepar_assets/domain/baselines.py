"""Simple forecasts that DeepAR has to beat."""

from __future__ import annotations

import numpy as np

from deepar_assets.errors import TrainingError


def seasonal_naive(history: np.ndarray, horizon: int, season: int = 52) -> np.ndarray:
    """The same week a season (a year of weeks) earlier; where that week is missing or before
    the history starts, the last observed value."""
    history = np.asarray(history, dtype=np.float64)
    observed = np.flatnonzero(~np.isnan(history))
    if not len(observed):
        raise TrainingError("seasonal naive needs at least one observed value in the history")
    last = history[observed[-1]]
    forecast = np.full(horizon, last)
    for step in range(horizon):
        index = len(history) - season + step
        if 0 <= index < len(history) and not np.isnan(history[index]):
            forecast[step] = history[index]
    return forecast
