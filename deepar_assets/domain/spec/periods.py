"""Frequencies and periods: what a pandas offset alias means for seasons, horizons, partitions
and SageMaker DeepAR's ``time_freq`` (plain functions; no Dagster).

A *period* is one step of the dataset's frequency, labelled by pandas' own anchor (a W-FRI week
by its Friday, an ``MS`` month by its first day, an ``ME`` month by its last). A *partition* is a
window ``[start, next start)`` of the partition frequency (the data's own frequency unless the
spec asks for a coarser one); a row belongs to the partition whose window holds its timestamp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepar_assets.errors import ConfigurationError

_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# pandas 2.x spells these with an E; the old spelling is accepted and normalized.
_ALIASES = {"M": "ME", "H": "h", "W": "W-SUN", "Q": "QE", "A": "YE", "Y": "YE", "T": "min"}


@dataclass(frozen=True)
class Frequency:
    """One supported frequency: its pandas alias and what follows from it."""

    alias: str  # normalized pandas alias: D, W-FRI, MS, ME, h
    kind: str  # hour, day, week, month
    season: int  # default season length
    horizon: int  # default prediction length
    sagemaker: str  # SageMaker DeepAR time_freq
    cron: str  # Dagster partition schedule (window starts)
    key_format: str  # partition key format

    @property
    def offset(self) -> pd.DateOffset:
        return pd.tseries.frequencies.to_offset(self.alias)


def normalize(alias: str) -> str:
    text = str(alias).strip()
    return _ALIASES.get(text, text)


def frequency(alias: str, field: str = "frequency") -> Frequency:
    """The :class:`Frequency` of a pandas offset alias; an unsupported one raises
    ConfigurationError naming ``field``, what was found and what is supported."""
    text = normalize(alias)
    supported = "D, W-MON … W-SUN (W = W-SUN), MS, ME (M), h (H)"
    if text == "D":
        return Frequency("D", "day", 7, 28, "D", "0 0 * * *", "%Y-%m-%d")
    if text == "h":
        return Frequency("h", "hour", 24, 48, "H", "0 * * * *", "%Y-%m-%d-%H:%M")
    if text in ("MS", "ME"):
        return Frequency(text, "month", 12, 12, "M", "0 0 1 * *", "%Y-%m-%d")
    match = re.fullmatch(r"W-(MON|TUE|WED|THU|FRI|SAT|SUN)", text)
    if match:
        cron_day = (_WEEKDAYS.index(match[1]) + 1) % 7  # cron: 0 = Sunday
        return Frequency(text, "week", 52, 13, "W", f"0 0 * * {cron_day}", "%Y-%m-%d")
    raise ConfigurationError(
        f"{field}: {alias!r} is not a supported frequency; expected a pandas offset alias among {supported} "
        "(SageMaker DeepAR takes minutes, hours, days, weeks and months)"
    )


def period_index(first: pd.Timestamp, last: pd.Timestamp, alias: str) -> pd.DatetimeIndex:
    """Every period label from ``first`` to ``last`` inclusive."""
    return pd.date_range(first, last, freq=normalize(alias))


def on_grid(stamps, alias: str) -> np.ndarray:
    """True where a timestamp is a label of the frequency (a Friday at midnight for W-FRI, a
    first of the month for MS, a last of the month for ME, midnight for D, a whole hour for h)."""
    return np.asarray(_on_offset(pd.DatetimeIndex(stamps), alias), dtype=bool)


def _on_offset(index: pd.DatetimeIndex, alias: str):
    text = normalize(alias)
    midnight = (
        (index.hour == 0)
        & (index.minute == 0)
        & (index.second == 0)
        & (index.nanosecond == 0)
        & (index.microsecond == 0)
    )
    if text == "h":
        return (index.minute == 0) & (index.second == 0) & (index.microsecond == 0) & (index.nanosecond == 0)
    if text == "D":
        return midnight
    if text == "MS":
        return midnight & (index.day == 1)
    if text == "ME":
        return midnight & index.is_month_end
    if text.startswith("W-"):
        return midnight & (index.dayofweek == _WEEKDAYS.index(text[2:]))
    offset = pd.tseries.frequencies.to_offset(text)
    return [offset.is_on_offset(t) for t in index]


def steps_between(first: pd.Timestamp, later: pd.Series | pd.DatetimeIndex, alias: str):
    """Integer period index of each timestamp in ``later`` counted from ``first`` (both on the grid)."""
    text = normalize(alias)
    index = pd.DatetimeIndex(later)
    first = pd.Timestamp(first)
    if text in ("MS", "ME"):
        return (index.year - first.year) * 12 + (index.month - first.month)
    step = {"h": pd.Timedelta(hours=1), "D": pd.Timedelta(days=1)}.get(text, pd.Timedelta(weeks=1))
    return (index - first) // step


def shift(stamp: pd.Timestamp, periods: int, alias: str) -> pd.Timestamp:
    """The period ``periods`` steps after ``stamp`` (before, when negative)."""
    return pd.Timestamp(stamp) + periods * pd.tseries.frequencies.to_offset(normalize(alias))


def partition_start(stamp: pd.Timestamp, partition_alias: str) -> pd.Timestamp:
    """The start of the partition window that holds ``stamp``."""
    text = normalize(partition_alias)
    stamp = pd.Timestamp(stamp)
    if text == "h":
        return stamp.floor("h")
    day = stamp.normalize()
    if text == "D":
        return day
    if text in ("MS", "ME"):
        return day.replace(day=1)
    if text.startswith("W-"):
        weekday = _WEEKDAYS.index(text[2:])
        return day - pd.Timedelta(days=(day.dayofweek - weekday) % 7)
    raise ConfigurationError(f"partitions: {partition_alias!r} is not a supported frequency")


def partition_key(stamp: pd.Timestamp, partition_alias: str) -> str:
    """The partition key of the window holding ``stamp`` (its start, in the key format)."""
    return partition_start(stamp, partition_alias).strftime(frequency(partition_alias).key_format)


def partition_window(key: str, partition_alias: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` of a partition key."""
    fmt = frequency(partition_alias).key_format
    start = pd.Timestamp(pd.to_datetime(key, format=fmt))
    text = normalize(partition_alias)
    if text in ("MS", "ME"):
        end = start + pd.DateOffset(months=1)
    elif text == "h":
        end = start + pd.Timedelta(hours=1)
    elif text == "D":
        end = start + pd.Timedelta(days=1)
    else:
        end = start + pd.Timedelta(weeks=1)
    return start, end


def format_period(stamp: pd.Timestamp, alias: str) -> str:
    """A period as text: a date, or a date and hour for hourly data."""
    return pd.Timestamp(stamp).strftime("%Y-%m-%d %H:%M" if normalize(alias) == "h" else "%Y-%m-%d")
