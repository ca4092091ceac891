"""Forecast tables a planner reads: one row per (series, period), keyed by the spec's ids and
categorical attributes, the period in the spec's time column, and the mean and quantiles."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd

from deepar_assets.constants import QUANTILES
from deepar_assets.domain.forecasting.keys import PERIOD
from deepar_assets.domain.spec import periods
from deepar_assets.errors import EncodingError

QUANTILE_COLUMNS = tuple(f"p{round(q * 100)}" for q in QUANTILES)
VALUE_COLUMNS = ("mean", *QUANTILE_COLUMNS)


def check_forecast(arrays: Mapping[str, np.ndarray], n: int, h: int) -> None:
    for name in VALUE_COLUMNS:
        if name not in arrays:
            raise EncodingError(f"the forecast has no {name!r}; expected {list(VALUE_COLUMNS)}")
        if np.shape(arrays[name]) != (n, h):
            raise EncodingError(
                f"forecast {name!r} has shape {np.shape(arrays[name])}; expected ({n}, {h}): {n} series × {h} periods"
            )


def forecast_frame(
    keys: pd.DataFrame, dates: pd.DatetimeIndex, arrays: Mapping[str, np.ndarray], time: str = PERIOD
) -> pd.DataFrame:
    """Long table: one row per (series, period): ``keys``' columns (the ids, then the
    categorical attributes), the period (column ``time``), ``horizon`` (1 … h), the mean and
    p10 … p90."""
    n, h = len(keys), len(dates)
    check_forecast(arrays, n, h)
    frame = pd.DataFrame({name: np.repeat(keys[name].to_numpy(), h) for name in keys.columns})
    frame[time] = np.tile(pd.DatetimeIndex(dates).to_numpy(), n)
    frame["horizon"] = np.tile(np.arange(1, h + 1), n)
    for name in VALUE_COLUMNS:
        frame[name] = np.asarray(arrays[name], dtype=np.float64).ravel()
    return frame


def date_format(freq: str) -> str:
    """How periods are written in CSV: a date, or a date and hour for hourly data."""
    return "%Y-%m-%d %H:%M" if periods.normalize(freq) == "h" else "%Y-%m-%d"


def to_csv_bytes(frame: pd.DataFrame, freq: str = "D") -> bytes:
    return frame.to_csv(index=False, float_format="%.2f", date_format=date_format(freq)).encode()


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
