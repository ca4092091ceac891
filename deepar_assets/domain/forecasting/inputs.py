"""Which series a model can forecast, and the records it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import FIELD_CAT, FIELD_DYNAMIC_FEAT
from deepar_assets.domain.encoding import EncodedSeries, Encoding, require_known_ahead
from deepar_assets.domain.forecasting.keys import plain
from deepar_assets.domain.forecasting.translate import model_codes, model_features
from deepar_assets.errors import ConfigurationError


@dataclass
class ForecastInputs:
    """What a model is asked to forecast: one record per forecastable series, in the model's
    encoding, with features ``h`` periods past the last observed period T."""

    records: list[dict[str, Any]]
    series: np.ndarray  # index of each record's series in encoded.keys
    keys: pd.DataFrame  # ids and categorical attributes of each record (same order)
    skipped: pd.DataFrame  # the same columns and a reason: series the model cannot forecast
    dates: pd.DatetimeIndex  # the h forecast periods, T + 1 … T + h
    origin: pd.Timestamp  # T, the last observed period
    features: np.ndarray = field(repr=False)  # model_features(...), reused by scenarios and cold start


def forecast_dates(encoded: EncodedSeries, h: int) -> pd.DatetimeIndex:
    """The ``h`` periods after T, on the spec's frequency (from ``encoded.periods``)."""
    require_known_ahead(encoded, h)
    return encoded.periods[encoded.n_history : encoded.n_history + h]


def with_features(record: dict[str, Any], features: np.ndarray | None) -> dict[str, Any]:
    """``record`` with ``dynamic_feat`` set to ``features``, or without the field when the
    model has no dynamic feature (a dataset without covariates)."""
    out = {k: v for k, v in record.items() if k != FIELD_DYNAMIC_FEAT}
    if features is not None and np.shape(features)[0] > 0:
        out[FIELD_DYNAMIC_FEAT] = features
    return out


def forecast_inputs(encoded: EncodedSeries, model_encoding: Encoding, h: int) -> ForecastInputs:
    """One record per series the model can embed: target up to T (``record(i, end=n_history,
    future=h)``), categories and features translated into the model's encoding. A known-ahead
    covariate that does not reach T + h is refused (``require_known_ahead``)."""
    if h < 1:
        raise ConfigurationError(f"prediction_length must be at least 1, got {h}")
    dates = forecast_dates(encoded, h)
    codes, reasons = model_codes(encoded, model_encoding)
    features = model_features(encoded, model_encoding)
    end = encoded.n_history
    columns = list(encoded.keys.columns)
    records, series, skipped = [], [], []
    for i in range(encoded.n_series):
        if reasons[i] is not None:
            row = encoded.keys.iloc[i]
            skipped.append({**{c: plain(row[c]) for c in columns}, "reason": reasons[i]})
            continue
        start = int(encoded.first[i])
        record = encoded.record(i, end=end, future=h)
        record[FIELD_CAT] = codes[i].tolist()
        records.append(with_features(record, features[encoded.group_row[i], :, start : end + h]))
        series.append(i)
    index = np.asarray(series, dtype=np.int64)
    return ForecastInputs(
        records=records,
        series=index,
        keys=encoded.keys.iloc[index].reset_index(drop=True),
        skipped=pd.DataFrame(skipped, columns=[*columns, "reason"]),
        dates=dates,
        origin=encoded.last_period,
        features=features,
    )
