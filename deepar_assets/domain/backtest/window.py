"""A backtest window: every model's forecasts of the same (series, period) points after one or
more origins, with the actuals, the period weights and the histories before each origin.

Records here are DeepAR records of a channel (the validation channel: every series up to T),
whose last ``h`` target points are the window. Their periods follow from ``start`` and the
spec's frequency (``encoding.freq``), never from a fixed step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import FIELD_CAT, FIELD_DYNAMIC_FEAT, FIELD_START, FIELD_TARGET
from deepar_assets.domain.backtest.baselines import SEASONAL_NAIVE, baseline_forecasts
from deepar_assets.domain.backtest.scores import DEEPAR, score
from deepar_assets.domain.encoding import Encoding
from deepar_assets.domain.forecasting.keys import id_columns, key_columns
from deepar_assets.domain.forecasting.tables import QUANTILE_COLUMNS
from deepar_assets.domain.spec import periods
from deepar_assets.errors import TrainingError


@dataclass
class Window:
    """The forecasts of every model over the same (series, period) points of one or more
    origins, stacked along the series axis."""

    keys: pd.DataFrame  # ids, then categorical attributes, per row
    ids: list[str]  # the id columns among keys' columns
    origins: np.ndarray  # (rows,) the origin (the period before the window) of each row, as text
    actual: np.ndarray  # (rows, h)
    weights: np.ndarray  # (rows, h) each point's weight in WMAE (1.0 without declared weights)
    histories: list[np.ndarray]
    forecasts: dict[str, dict[str, np.ndarray]]  # model → mean/quantiles
    season: int  # the spec's season length, for MASE
    # model → (rows,) why each row was forecast by seasonal naive instead ("" where by the model)
    fallbacks: dict[str, np.ndarray] = field(default_factory=dict)

    def rows(self, mask: np.ndarray) -> Window:
        idx = np.flatnonzero(mask)
        return Window(
            keys=self.keys.iloc[idx].reset_index(drop=True),
            ids=self.ids,
            origins=self.origins[idx],
            actual=self.actual[idx],
            weights=self.weights[idx],
            histories=[self.histories[i] for i in idx],
            forecasts={m: {k: v[idx] for k, v in f.items()} for m, f in self.forecasts.items()},
            season=self.season,
            fallbacks={m: v[idx] for m, v in self.fallbacks.items()},
        )

    @staticmethod
    def stack(windows: Sequence[Window]) -> Window:
        if not windows:
            raise TrainingError("no backtest window to stack")
        models = list(windows[0].forecasts)
        return Window(
            keys=pd.concat([w.keys for w in windows], ignore_index=True),
            ids=windows[0].ids,
            origins=np.concatenate([w.origins for w in windows]),
            actual=np.concatenate([w.actual for w in windows]),
            weights=np.concatenate([w.weights for w in windows]),
            histories=[h for w in windows for h in w.histories],
            forecasts={
                m: {k: np.concatenate([w.forecasts[m][k] for w in windows]) for k in windows[0].forecasts[m]}
                for m in models
            },
            season=windows[0].season,
            fallbacks={
                m: np.concatenate([w.fallbacks.get(m, np.full(len(w.keys), "", dtype=object)) for w in windows])
                for m in dict.fromkeys(m for w in windows for m in w.fallbacks)
            },
        )

    @property
    def series(self) -> int:
        """Distinct series (id combinations) in the window."""
        return int(self.keys[self.ids].drop_duplicates().shape[0]) if len(self.keys) else 0

    def fallback_report(self) -> dict[str, dict[str, Any]]:
        """Per model that forecast some rows by seasonal naive instead: the distinct series and
        the forecasts (series × origin) concerned, out of how many, and each reason with its
        number of forecasts, most frequent first. Empty when every model fitted every row."""
        out: dict[str, dict[str, Any]] = {}
        for model, reasons in self.fallbacks.items():
            fell = np.asarray([bool(r) for r in reasons], dtype=bool)
            if not fell.any():
                continue
            counts = pd.Series(reasons[fell]).value_counts()
            out[model] = {
                "series": int(self.keys.loc[fell, self.ids].drop_duplicates().shape[0]),
                "of_series": self.series,
                "forecasts": int(fell.sum()),
                "of_forecasts": len(reasons),
                "reasons": {str(k): int(v) for k, v in counts.items()},
            }
        return out

    def points(self, model: str = DEEPAR) -> pd.DataFrame:
        """One model's forecast as scored points, one row per (row, horizon step): the keys,
        ``origin``, ``horizon`` (1 … h), ``actual``, ``weight``, ``mean`` and p10 … p90 (the mean
        where the model gives no quantiles), for :mod:`deepar_assets.domain.accuracy`."""
        if model not in self.forecasts:
            raise TrainingError(f"the window has no forecast by {model}; it has {list(self.forecasts)}")
        forecast = self.forecasts[model]
        n, h = self.actual.shape
        frame = pd.DataFrame({c: np.repeat(self.keys[c].to_numpy(), h) for c in self.keys.columns})
        frame["origin"] = np.repeat(self.origins, h)
        frame["horizon"] = np.tile(np.arange(1, h + 1), n)
        frame["actual"] = self.actual.ravel()
        frame["weight"] = self.weights.ravel()
        frame["mean"] = np.asarray(forecast["mean"], dtype=np.float64).ravel()
        for name in QUANTILE_COLUMNS:
            frame[name] = np.asarray(forecast.get(name, forecast["mean"]), dtype=np.float64).ravel()
        return frame[frame["actual"].notna()].reset_index(drop=True)

    def scores(self) -> pd.DataFrame:
        """One row per model, one column per metric."""
        return pd.DataFrame(
            [
                {"model": m, **score(self.actual, f, self.weights, self.histories, self.season)}
                for m, f in self.forecasts.items()
            ]
        ).set_index("model")


def window_histories(targets: Sequence[np.ndarray], h: int) -> list[np.ndarray]:
    """The history before each record's last ``h`` points."""
    return [np.asarray(t, dtype=np.float64)[:-h] for t in targets]


def check_forecasts(forecasts: Mapping[str, Mapping[str, np.ndarray]], shape: tuple[int, int]) -> None:
    for model, forecast in forecasts.items():
        for key, values in forecast.items():
            if np.shape(values) != shape:
                raise TrainingError(
                    f"{model}'s forecast {key!r} has shape {np.shape(values)}; expected {shape} (series × periods)"
                )


def window_periods(records: Sequence[dict[str, Any]], h: int, freq: str) -> list[pd.DatetimeIndex]:
    """The periods of each record's last ``h`` target points, on the frequency ``freq``."""
    cache: dict[tuple[str, int], pd.DatetimeIndex] = {}
    out = []
    for record in records:
        key = (str(record[FIELD_START]), len(record[FIELD_TARGET]))
        if key not in cache:
            index = pd.date_range(pd.Timestamp(key[0]), periods=key[1], freq=periods.normalize(freq))
            cache[key] = index[key[1] - h :]
        out.append(cache[key])
    return out


def window_weights(dates: Sequence[pd.DatetimeIndex], encoding: Encoding, h: int) -> np.ndarray:
    """(rows, h) each point's weight (``encoding.period_weights``; 1.0 without declared weights),
    computed once per distinct window."""
    cache: dict[pd.Timestamp, np.ndarray] = {}
    rows = []
    for index in dates:
        if index[0] not in cache:
            cache[index[0]] = np.asarray(encoding.period_weights(index), dtype=np.float64)
        rows.append(cache[index[0]])
    return np.stack(rows) if rows else np.zeros((0, h))


def cut_record(record: dict[str, Any], points: int) -> dict[str, Any]:
    """The record as it was ``points`` periods earlier (target and features both shortened)."""
    if points == 0:
        return record
    out = {**record, FIELD_TARGET: record[FIELD_TARGET][:-points]}
    if FIELD_DYNAMIC_FEAT in record:
        out[FIELD_DYNAMIC_FEAT] = np.asarray(record[FIELD_DYNAMIC_FEAT])[:, :-points]
    return out


def rows_at(records: Sequence[dict[str, Any]], drop: int, h: int) -> np.ndarray:
    """Indices of the records with an observed value before the window that ends ``drop``
    periods before their end (a series that starts later has nothing to forecast from there)."""
    keep = []
    for i, record in enumerate(records):
        target = np.asarray(record[FIELD_TARGET], dtype=np.float64)
        before = len(target) - drop - h
        if before > 0 and np.count_nonzero(~np.isnan(target[:before])) > 0:
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def origin_records(records: Sequence[dict[str, Any]], drop: int, h: int) -> list[dict[str, Any]]:
    """The records cut ``drop`` periods before their end, keeping those :func:`rows_at` keeps."""
    return [cut_record(records[i], drop) for i in rows_at(records, drop, h)]


def build_window(
    records: Sequence[dict[str, Any]],
    h: int,
    encoding: Encoding,
    deepar: Mapping[str, np.ndarray],
    baselines: Sequence[str] = (),
    workers: int = 1,
    fitted: Mapping[str, tuple[Mapping[str, np.ndarray], np.ndarray]] | None = None,
) -> Window:
    """DeepAR's forecast of the last ``h`` points of ``records`` beside seasonal naive and the
    given statistical baselines (fitted on each history, with the spec's season), the actuals,
    each point's weight (``encoding.period_weights``) and the decoded keys. A series a
    statistical model cannot fit is forecast by seasonal naive in its row, and the reason kept
    in ``fallbacks`` (see :meth:`Window.fallback_report`). ``fitted``: baselines already fitted
    on exactly these histories (name → forecast and each row's fallback reason), taken as they are."""
    season = int(encoding.season_length)
    targets = [np.asarray(r[FIELD_TARGET], dtype=np.float64) for r in records]
    histories = window_histories(targets, h)
    dates = window_periods(records, h, encoding.freq)
    origins = [periods.format_period(periods.shift(d[0], -1, encoding.freq), encoding.freq) for d in dates]
    weights = (
        np.stack([np.asarray(encoding.period_weights(d), dtype=np.float64) for d in dates])
        if dates
        else np.zeros((0, h))
    )
    decoded = [encoding.decode(r[FIELD_CAT]) for r in records]
    forecasts = {DEEPAR: dict(deepar)}
    fallbacks: dict[str, np.ndarray] = {}
    for name in [SEASONAL_NAIVE, *baselines]:
        if fitted and name in fitted:
            forecasts[name], reasons = dict(fitted[name][0]), np.asarray(fitted[name][1], dtype=object)
        else:
            result = baseline_forecasts(histories, h, name, season, workers=workers)
            forecasts[name], reasons = result.forecast, result.fallback_reasons(len(records))
        if name != SEASONAL_NAIVE:
            fallbacks[name] = reasons
    check_forecasts(forecasts, (len(records), h))
    return Window(
        keys=pd.DataFrame({name: [d[name] for d in decoded] for name in key_columns(encoding)}),
        ids=id_columns(encoding),
        origins=np.asarray(origins),
        actual=np.stack([t[-h:] for t in targets]) if targets else np.zeros((0, h)),
        weights=weights,
        histories=histories,
        forecasts=forecasts,
        season=season,
        fallbacks=fallbacks,
    )
