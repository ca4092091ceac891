"""When a forecast is late: the newest period of data has been in for longer than a declared
time and no forecast was made since (plain functions; no Dagster)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from deepar_assets.domain.spec import periods

DEFAULT_LATE_HOURS = 24.0


@dataclass(frozen=True)
class Freshness:
    passed: bool
    description: str
    hours_since_data: float | None = None


def period_length(alias: str) -> timedelta:
    """The longest period of a frequency (31 days for a month, 7 for a week, 1 for a day)."""
    grid = pd.date_range("2001-01-01", periods=14, freq=periods.normalize(alias))
    return pd.Timedelta(grid.to_series().diff().max()).to_pytimedelta()


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 1)


def forecast_freshness(
    data_at: float | None,
    data_partition: str | None,
    forecast_at: float | None,
    now: float,
    late_after: timedelta,
) -> Freshness:
    """Whether the forecast is on time: ``data_at`` is when the newest data was stored
    (``data_partition``, its partition), ``forecast_at`` when the latest forecast was made
    (epoch seconds, None when never), ``late_after`` how long the data may wait for one."""
    limit = late_after.total_seconds() / 3600
    if data_at is None:
        return Freshness(True, "no data has been stored yet: no forecast is due")
    waited = now - data_at
    if forecast_at is not None and forecast_at >= data_at:
        return Freshness(
            True,
            f"on time: the latest forecast was made {_hours(forecast_at - data_at)} h after the newest data "
            f"(partition {data_partition}) was stored",
            _hours(waited),
        )
    if waited <= late_after.total_seconds():
        return Freshness(
            True,
            f"due: partition {data_partition} has been in for {_hours(waited)} h; a forecast is late after {limit:g} h",
            _hours(waited),
        )
    return Freshness(
        False,
        f"LATE: partition {data_partition} has been in for {_hours(waited)} h (more than {limit:g} h) and no forecast "
        "was made from it; materialize forecasts (its automation follows new data: check the automation sensor "
        "and the gate on best_model)",
        _hours(waited),
    )
