"""The forecast against one season earlier, the series worth a picture, and totals of history."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepar_assets.domain.encoding import EncodedSeries
from deepar_assets.errors import EncodingError


def season_of(encoded: EncodedSeries) -> int:
    """The season length in periods (``encoding.season_length``; the spec's evaluation)."""
    return int(encoded.encoding.season_length or encoded.spec.season_length)


def changes_vs_last_season(
    encoded: EncodedSeries, series: np.ndarray, keys: pd.DataFrame, mean: np.ndarray, season: int | None = None
) -> pd.DataFrame:
    """Per series: the forecast's total over the horizon against the actual total of the same
    periods one season earlier (``season`` periods back, the spec's season length by default:
    a year of weeks, 12 months, 7 days …), over the periods observed then only. Columns: ``keys``'
    (ids and attributes), ``periods_compared``, ``forecast``, ``last_season``, ``change``,
    ``change_pct``; largest absolute change first. Series with no observed period a season
    earlier are left out (nothing to compare)."""
    season = season_of(encoded) if season is None else int(season)
    n, h = np.shape(mean)
    if len(series) != n or len(keys) != n:
        raise EncodingError(f"{len(series)} series and {len(keys)} keys for a forecast of {n} series")
    columns = encoded.n_history + np.arange(h) - season
    valid = (columns >= 0) & (columns < encoded.n_history)
    earlier = np.full((n, h), np.nan)
    if valid.any() and n:
        earlier[:, valid] = encoded.target[np.asarray(series)[:, None], columns[valid][None, :]]
    observed = ~np.isnan(earlier)
    compared = observed.sum(axis=1)
    forecast_total = np.where(observed, mean, 0.0).sum(axis=1)
    actual_total = np.nansum(earlier, axis=1)
    frame = keys.reset_index(drop=True).copy()
    frame["periods_compared"] = compared
    frame["forecast"] = forecast_total
    frame["last_season"] = actual_total
    frame["change"] = forecast_total - actual_total
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["change_pct"] = np.where(actual_total != 0, 100.0 * frame["change"] / np.abs(actual_total), np.nan)
    frame = frame[compared > 0]
    return frame.reindex(frame["change"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def recent_volume(encoded: EncodedSeries, series: np.ndarray) -> np.ndarray:
    """Each series' absolute total over the last season (its best-measured level)."""
    recent = encoded.target[np.asarray(series, dtype=np.int64), max(0, encoded.n_history - season_of(encoded)) :]
    if not recent.size:
        return np.zeros(len(series))
    return np.nan_to_num(np.nansum(np.abs(recent), axis=1))


def representative_series(
    encoded: EncodedSeries, series: np.ndarray, count: int, changes: pd.DataFrame | None = None
) -> list[int]:
    """Positions (into ``series``) of a few series worth a picture: the biggest of the last
    season, the median one, the one with the largest expected change, then the next biggest."""
    if count <= 0 or len(series) == 0:
        return []
    order = np.argsort(-recent_volume(encoded, series), kind="stable")
    chosen: list[int] = []

    def add(position: int) -> None:
        if position not in chosen and len(chosen) < count:
            chosen.append(int(position))

    add(order[0])
    add(order[len(order) // 2])
    ids = [c for c in encoded.spec.ids if changes is not None and c in changes.columns]
    if changes is not None and len(changes) and ids:
        top = changes.iloc[0]
        keys = encoded.keys.iloc[np.asarray(series, dtype=np.int64)]
        match = np.ones(len(series), dtype=bool)
        for column in ids:
            match &= (keys[column] == top[column]).to_numpy()
        if match.any():
            add(int(np.flatnonzero(match)[0]))
    for position in order:
        add(position)
    return chosen


def history_total(encoded: EncodedSeries, rows: np.ndarray | int, periods: int) -> pd.Series:
    """The observed total of ``rows`` over the last ``periods`` periods of history, indexed by
    period (NaN where none of them is observed)."""
    start = max(0, encoded.n_history - periods)
    values = encoded.target[np.atleast_1d(np.asarray(rows, dtype=np.int64)), start : encoded.n_history]
    observed = ~np.isnan(values).all(axis=0)
    total = np.nansum(values, axis=0)
    return pd.Series(np.where(observed, total, np.nan), index=encoded.periods[start : encoded.n_history])
