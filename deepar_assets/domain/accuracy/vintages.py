"""Vintages: each published forecast, kept as it was published, and its rows that have actuals.

A vintage is one materialization of ``forecasts``: the model, the last observed period T, the
periods T+1 … T+h and the forecast table (ids, attributes, period, horizon, mean, p10 … p90).
Its id is ``<T>/<model id>/<run>``, so that vintages sort by T and a forecast of the same T by
another model (or the same model, published again) is a vintage of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from deepar_assets.errors import EncodingError

MANIFEST_FIELDS = ("vintage_id", "dataset", "model_id", "origin", "periods", "data_version", "created")


@dataclass(frozen=True)
class Vintage:
    """One published forecast: what ``vintage.json`` records."""

    vintage_id: str  # <T as a key>/<model id>/<run>
    dataset: str
    model_id: str
    origin: str  # T, the last observed period, as the spec writes periods
    periods: tuple[str, ...]  # T+1 … T+h
    data_version: str  # the dataset version whose history ended at T
    created: str  # UTC, ISO 8601

    def to_json(self) -> bytes:
        return json.dumps({**asdict(self), "periods": list(self.periods)}, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Vintage:
        """A manifest, validated: a clear error naming ``where`` (its key) and the field."""
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EncodingError(f"{where}: not a vintage manifest (invalid JSON: {exc})") from None
        if not isinstance(raw, dict):
            raise EncodingError(f"{where}: expected a JSON object with {list(MANIFEST_FIELDS)}")
        missing = [f for f in MANIFEST_FIELDS if f not in raw]
        if missing:
            raise EncodingError(f"{where}: the vintage manifest lacks {missing}")
        periods = raw["periods"]
        if not isinstance(periods, list) or not periods or not all(isinstance(p, str) for p in periods):
            raise EncodingError(f"{where}: periods must be a non-empty list of period strings, got {periods!r}")
        for name in MANIFEST_FIELDS:
            if name != "periods" and not isinstance(raw[name], str):
                raise EncodingError(f"{where}: {name} must be a string, got {raw[name]!r}")
        return cls(**{**{f: raw[f] for f in MANIFEST_FIELDS}, "periods": tuple(periods)})

    @property
    def horizon(self) -> int:
        return len(self.periods)


def actuals_frame(
    keys: pd.DataFrame,
    history: pd.DatetimeIndex,
    target: np.ndarray,
    wanted: Sequence[pd.Timestamp],
    time: str,
    weights: Callable[[pd.DatetimeIndex], np.ndarray],
) -> pd.DataFrame:
    """The observed actuals of ``wanted`` periods: one row per (series, period) with a value:
    ``keys``' columns (ids and attributes), the period (column ``time``), ``actual`` and
    ``weight`` (``weights`` of the period). ``target`` is (series, len(history)); a wanted
    period outside ``history`` has no actuals yet."""
    index = pd.DatetimeIndex(history)
    positions = index.get_indexer(pd.DatetimeIndex(wanted))
    found = positions >= 0
    dates = pd.DatetimeIndex(wanted)[found]
    columns = positions[found]
    if not len(columns):
        return pd.DataFrame(columns=[*keys.columns, time, "actual", "weight"])
    values = np.asarray(target, dtype=np.float64)[:, columns]  # (series, periods)
    n, p = values.shape
    frame = pd.DataFrame({name: np.repeat(keys[name].to_numpy(), p) for name in keys.columns})
    frame[time] = np.tile(dates.to_numpy(), n)
    frame["actual"] = values.ravel()
    frame["weight"] = np.tile(np.asarray(weights(dates), dtype=np.float64), n)
    return frame[frame["actual"].notna()].reset_index(drop=True)


def _join_keys(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The id columns as text, so an id read back from Parquet as another integer width (or a
    category) still joins."""
    return pd.DataFrame({c: frame[c].astype(str).to_numpy() for c in columns}, index=frame.index)


def scored_rows(
    vintage: Vintage, forecast: pd.DataFrame, actuals: pd.DataFrame, ids: Sequence[str], time: str
) -> pd.DataFrame:
    """The vintage's forecast points that have an actual: the actuals' key columns (ids and the
    current attributes), the period, ``horizon``, ``actual``, ``weight``, the forecast's mean and
    quantiles, and the vintage (``vintage_id``, ``model_id``, ``origin``)."""
    needed = [*ids, time, "horizon", "mean"]
    missing = [c for c in needed if c not in forecast.columns]
    if missing:
        raise EncodingError(f"vintage {vintage.vintage_id}: its forecast table lacks the columns {missing}")
    left = actuals.copy()
    right = forecast.drop(columns=[c for c in forecast.columns if c in actuals.columns and c not in (*ids, time)])
    left_keys, right_keys = _join_keys(left, ids), _join_keys(right, ids)
    left = pd.concat([left.drop(columns=list(ids)), left_keys.add_prefix("_id_")], axis=1).assign(_keep=left.index)
    right = pd.concat([right.drop(columns=list(ids)), right_keys.add_prefix("_id_")], axis=1)
    on = [f"_id_{c}" for c in ids] + [time]
    right[time] = pd.to_datetime(right[time])
    merged = left.merge(right, on=on, how="inner", validate="one_to_one")
    restored = actuals.loc[merged["_keep"].to_numpy(), list(ids)].reset_index(drop=True)
    merged = pd.concat([restored, merged.drop(columns=[*on[:-1], "_keep"]).reset_index(drop=True)], axis=1)
    merged.insert(0, "origin", vintage.origin)
    merged.insert(0, "model_id", vintage.model_id)
    merged.insert(0, "vintage_id", vintage.vintage_id)
    return merged
