"""The model and seasonal naive on the validation window, as a model card records them, and
``validation_forecasts.csv``: what an engine reports when it registers a model, and what the
gate reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import FIELD_CAT, FIELD_TARGET, QUANTILES
from deepar_assets.domain import metrics
from deepar_assets.domain.backtest.baselines import SEASONAL_NAIVE
from deepar_assets.domain.backtest.scores import GATE_METRIC
from deepar_assets.domain.backtest.window import window_periods, window_weights
from deepar_assets.domain.baselines import seasonal_naive
from deepar_assets.domain.encoding import Encoding
from deepar_assets.domain.forecasting.keys import key_columns, time_column
from deepar_assets.domain.spec import periods
from deepar_assets.errors import TrainingError


def validation_report(
    records: Sequence[dict[str, Any]],
    forecast: Mapping[str, np.ndarray],
    actual: np.ndarray,
    encoding: Encoding,
    h: int,
) -> dict[str, Any]:
    """Metrics of the model (``forecast``: mean and p10 … p90 of the last ``h`` points of each
    record) and of seasonal naive (the spec's season) on the validation window, over all
    series and over the complete ones (every period observed): WMAE with the spec's period
    weights (plain MAE without), mean wQuantileLoss, RMSE and MASE (left out where
    undefined). ``frame``: the forecasts keyed by the ids and categorical attributes, the
    period in the spec's time column."""
    season = int(encoding.season_length)
    histories = [np.asarray(r[FIELD_TARGET], dtype=np.float64)[:-h] for r in records]
    dates = window_periods(records, h, encoding.freq)
    weights = window_weights(dates, encoding, h)
    naive = np.stack([seasonal_naive(history, h, season) for history in histories])
    full_length = max(len(r[FIELD_TARGET]) for r in records)
    complete = np.array(
        [
            len(r[FIELD_TARGET]) == full_length and not np.isnan(np.asarray(r[FIELD_TARGET], dtype=float)).any()
            for r in records
        ]
    )

    def scores(rows: np.ndarray) -> dict[str, dict[str, float]]:
        hist = [histories[i] for i in np.flatnonzero(rows)]
        out = {}
        for name, point, quantiles in (
            ("model", forecast["mean"], {tau: forecast[f"p{round(tau * 100)}"][rows] for tau in QUANTILES}),
            (SEASONAL_NAIVE, naive, {tau: naive[rows] for tau in QUANTILES}),
        ):
            out[name] = {
                GATE_METRIC: metrics.wmae(actual[rows], point[rows], weights[rows]),
                "mean_wQuantileLoss": metrics.mean_weighted_quantile_loss(actual[rows], quantiles),
                "RMSE": metrics.rmse(actual[rows], point[rows]),
            }
            try:
                out[name]["MASE"] = metrics.mase(actual[rows], point[rows], hist, season)
            except TrainingError:
                pass  # undefined (no series has an in-sample naive error): left out, never faked
        return out

    decoded = [encoding.decode(r[FIELD_CAT]) for r in records]
    frame = pd.DataFrame({name: np.repeat([d[name] for d in decoded], h) for name in key_columns(encoding)})
    frame[time_column(encoding)] = [periods.format_period(d, encoding.freq) for index in dates for d in index]
    frame["mean"] = np.asarray(forecast["mean"]).ravel()
    for tau in QUANTILES:
        frame[f"p{round(tau * 100)}"] = np.asarray(forecast[f"p{round(tau * 100)}"]).ravel()
    everything = np.ones(len(records), dtype=bool)
    return {
        "series": len(records),
        "complete_series": int(complete.sum()),
        "metrics": scores(everything),
        "metrics_complete": scores(complete) if complete.any() else {},
        "frame": frame,
    }
