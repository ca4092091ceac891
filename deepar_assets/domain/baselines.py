"""Simple forecasts that DeepAR has to beat."""

from __future__ import annotations

import numpy as np

from deepar_assets.errors import TrainingError


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The same period a season earlier (``season``: the spec's season length, e.g. 52 weeks,
    7 days, 12 months); where that period is missing or before the history starts, the last
    observed value. A horizon longer than the season repeats the last season (step k takes
    period T − season + (k mod season))."""
    if int(season) < 1:
        raise ValueError(f"season must be at least 1 period, got {season}")
    season = int(season)
    history = np.asarray(history, dtype=np.float64)
    observed = np.flatnonzero(~np.isnan(history))
    if not len(observed):
        raise TrainingError("seasonal naive needs at least one observed value in the history")
    last = history[observed[-1]]
    forecast = np.full(horizon, last)
    for step in range(horizon):
        index = len(history) - season + step % season
        if 0 <= index < len(history) and not np.isnan(history[index]):
            forecast[step] = history[index]
    return forecast
