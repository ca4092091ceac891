"""From encoded series to forecasts a planner reads, and back: which series a model can
forecast, the records it is given, decoded forecast tables, changes against last year, what-if
scenarios on future features, and cold-start records for (Store, Dept) pairs with no history.

Plain functions over :class:`EncodedSeries` and :class:`Encoding`; no Dagster, no engine.

Two encodings meet here. ``encoded_series`` is encoded with the *current* data; a model was
trained on the dataset version in its card, with *that* version's encoding (``encoding.json``
beside its channels). Category codes and feature scaling can differ between the two (a new
store shifts every code after it; a new week moves the scaling statistics), so records are
always translated into the model's encoding: categories by value, features by unscaling with
the current statistics and rescaling with the model's. A category value the model never saw
cannot be embedded: such series are reported, never forecast.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import FIELD_CAT, FIELD_DYNAMIC_FEAT, FIELD_START, FIELD_TARGET, QUANTILES
from deepar_assets.domain.encoding import CAT_NAMES, EncodedSeries, Encoding, FeatureSpec
from deepar_assets.domain.kaggle import MARKDOWNS
from deepar_assets.errors import ConfigurationError, EncodingError

QUANTILE_COLUMNS = tuple(f"p{round(q * 100)}" for q in QUANTILES)
VALUE_COLUMNS = ("mean", *QUANTILE_COLUMNS)
KEY_COLUMNS = ("Store", "Dept", "Type")
SEASON = 52  # weeks in a Walmart year: "last year" is 52 weeks earlier (same weekday, Friday)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_BINARY_FEATURES = ("IsHoliday", "AnyMarkDown")


# -- features: scaled <-> raw ----------------------------------------------------------------
def to_raw(values: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Undo a feature's scaling (see :func:`deepar_assets.domain.encoding._scale`)."""
    values = np.asarray(values, dtype=np.float64)
    if spec.scale == "none":
        return values
    z = values * spec.std + spec.mean
    if spec.scale == "log1p_standard":
        return np.sign(z) * np.expm1(np.abs(z))
    return z


def to_scaled(raw: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Scale raw feature values the way the encoding ``spec`` belongs to did."""
    raw = np.asarray(raw, dtype=np.float64)
    if spec.scale == "none":
        return raw
    if spec.scale == "log1p_standard":
        raw = np.sign(raw) * np.log1p(np.abs(raw))
    return (raw - spec.mean) / spec.std


def model_features(encoded: EncodedSeries, model_encoding: Encoding) -> np.ndarray:
    """``encoded.features`` (n_stores, n_feat, n_weeks) with the model's feature rows, in the
    model's order and scaling. Refuses when the current encoding lacks a feature the model
    was trained with, or encodes it with another fill policy or scaling kind."""
    current = {spec.name: (row, spec) for row, spec in enumerate(encoded.encoding.dynamic_feat)}
    rows = []
    for spec in model_encoding.dynamic_feat:
        if spec.name not in current:
            raise EncodingError(
                f"the model was trained with the dynamic feature {spec.name!r}, which encoded_series no longer has "
                f"(it has {list(current)}); rematerialize encoded_series with the model's features "
                f"{[f.name for f in model_encoding.dynamic_feat]} or retrain"
            )
        row, mine = current[spec.name]
        if (mine.fill, mine.scale) != (spec.fill, spec.scale):
            raise EncodingError(
                f"dynamic feature {spec.name}: encoded_series fills/scales it {mine.fill}/{mine.scale}, the model was "
                f"trained with {spec.fill}/{spec.scale}"
            )
        values = encoded.features[:, row, :]
        if (mine.mean, mine.std) != (spec.mean, spec.std):
            values = to_scaled(to_raw(values, mine), spec)
        rows.append(values)
    if not rows:
        return np.zeros((encoded.features.shape[0], 0, encoded.features.shape[2]))
    return np.stack(rows, axis=1)


# -- which series, which records ---------------------------------------------------------------
@dataclass
class ForecastInputs:
    """What a model is asked to forecast: one record per forecastable series, in the model's
    encoding, with features ``h`` weeks past the last observed week T."""

    records: list[dict[str, Any]]
    series: np.ndarray  # index of each record's series in encoded.keys
    keys: pd.DataFrame  # Store, Dept, Type of each record (same order)
    skipped: pd.DataFrame  # Store, Dept, Type, reason: series the model cannot forecast
    dates: pd.DatetimeIndex  # the h forecast weeks, T + 1 … T + h
    origin: pd.Timestamp  # T, the last observed week
    features: np.ndarray = field(repr=False, default=None)  # model_features(...), reused by scenarios


def require_future_features(encoded: EncodedSeries, h: int) -> None:
    if encoded.future_weeks < h:
        last = encoded.weeks[-1]
        raise EncodingError(
            f"forecasting {h} weeks after the last observed week {encoded.last_week:%Y-%m-%d} needs the dynamic "
            f"features of those weeks, but features.csv reaches only {encoded.future_weeks} week(s) past it "
            f"(to {last:%Y-%m-%d}); add the features of the weeks up to "
            f"{encoded.last_week + pd.Timedelta(weeks=h):%Y-%m-%d}, or forecast with a model of prediction_length "
            f"<= {encoded.future_weeks}"
        )


def model_codes(encoded: EncodedSeries, model_encoding: Encoding) -> tuple[np.ndarray, list[str | None]]:
    """Each series' categories as the model's codes; -1 and a reason where the model never saw
    a value (DeepAR has no embedding for it)."""
    names = [c.name for c in model_encoding.cat]
    missing = [n for n in names if n not in encoded.keys.columns]
    if missing:
        raise EncodingError(f"the model's categories {names} include {missing}, which encoded_series does not have")
    codes = np.full((encoded.n_series, len(names)), -1, dtype=np.int64)
    reasons: list[str | None] = [None] * encoded.n_series
    lookup = [{value: code for code, value in enumerate(spec.values)} for spec in model_encoding.cat]
    columns = [encoded.keys[n].tolist() for n in names]
    for i in range(encoded.n_series):
        unseen = []
        for k, name in enumerate(names):
            value = columns[k][i]
            code = lookup[k].get(value)
            if code is None:
                unseen.append(f"{name}={value!r}")
            else:
                codes[i, k] = code
        if unseen:
            reasons[i] = f"{', '.join(unseen)} not seen in training: DeepAR has no embedding for it"
    return codes, reasons


def forecast_inputs(encoded: EncodedSeries, model_encoding: Encoding, h: int) -> ForecastInputs:
    """One record per series the model can embed: target up to T (``record(i, end=n_history,
    future=h)``), categories and features translated into the model's encoding."""
    if h < 1:
        raise ConfigurationError(f"prediction_length must be at least 1, got {h}")
    require_future_features(encoded, h)
    codes, reasons = model_codes(encoded, model_encoding)
    features = model_features(encoded, model_encoding)
    end = encoded.n_history
    records, series, skipped = [], [], []
    for i in range(encoded.n_series):
        if reasons[i] is not None:
            skipped.append({**_key(encoded, i), "reason": reasons[i]})
            continue
        record = encoded.record(i, end=end, future=h)
        start = int(encoded.first[i])
        record[FIELD_CAT] = codes[i].tolist()
        record[FIELD_DYNAMIC_FEAT] = features[encoded.store_row[i], :, start : end + h]
        records.append(record)
        series.append(i)
    index = np.asarray(series, dtype=np.int64)
    return ForecastInputs(
        records=records,
        series=index,
        keys=encoded.keys.iloc[index][list(KEY_COLUMNS)].reset_index(drop=True),
        skipped=pd.DataFrame(skipped, columns=[*KEY_COLUMNS, "reason"]),
        dates=forecast_dates(encoded, h),
        origin=encoded.last_week,
        features=features,
    )


def forecast_dates(encoded: EncodedSeries, h: int) -> pd.DatetimeIndex:
    return encoded.weeks[encoded.n_history : encoded.n_history + h]


def _key(encoded: EncodedSeries, i: int) -> dict[str, Any]:
    row = encoded.keys.iloc[i]
    return {"Store": _plain(row["Store"]), "Dept": _plain(row["Dept"]), "Type": str(row["Type"])}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# -- forecast tables ---------------------------------------------------------------------------
def check_forecast(arrays: Mapping[str, np.ndarray], n: int, h: int) -> None:
    for name in VALUE_COLUMNS:
        if name not in arrays:
            raise EncodingError(f"the forecast has no {name!r}; expected {list(VALUE_COLUMNS)}")
        if np.shape(arrays[name]) != (n, h):
            raise EncodingError(f"forecast {name!r} has shape {np.shape(arrays[name])}; expected ({n}, {h}): {n} series × {h} weeks")


def forecast_frame(keys: pd.DataFrame, dates: pd.DatetimeIndex, arrays: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Long table: one row per (Store, Dept, week) with the mean and p10 … p90."""
    n, h = len(keys), len(dates)
    check_forecast(arrays, n, h)
    frame = pd.DataFrame({name: np.repeat(keys[name].to_numpy(), h) for name in KEY_COLUMNS})
    frame["Date"] = np.tile(dates.to_numpy(), n)
    frame["horizon"] = np.tile(np.arange(1, h + 1), n)
    for name in VALUE_COLUMNS:
        frame[name] = np.asarray(arrays[name], dtype=np.float64).ravel()
    return frame


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, float_format="%.2f", date_format="%Y-%m-%d").encode()


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


# -- against last year -------------------------------------------------------------------------
def changes_vs_last_year(
    encoded: EncodedSeries, series: np.ndarray, keys: pd.DataFrame, mean: np.ndarray, season: int = SEASON
) -> pd.DataFrame:
    """Per series: the forecast's total over the horizon against the actual total of the same
    weeks a year (52 weeks) earlier, over the weeks observed last year only. Series with no
    observed week last year are left out (nothing to compare)."""
    n, h = np.shape(mean)
    if len(series) != n or len(keys) != n:
        raise EncodingError(f"{len(series)} series and {len(keys)} keys for a forecast of {n} series")
    columns = encoded.n_history + np.arange(h) - season
    valid = columns >= 0
    last_year = np.full((n, h), np.nan)
    if valid.any():
        last_year[:, valid] = encoded.target[np.asarray(series)[:, None], columns[valid][None, :]]
    observed = ~np.isnan(last_year)
    weeks = observed.sum(axis=1)
    forecast_total = np.where(observed, mean, 0.0).sum(axis=1)
    actual_total = np.nansum(last_year, axis=1)
    frame = keys[list(KEY_COLUMNS)].copy()
    frame["weeks_compared"] = weeks
    frame["forecast"] = forecast_total
    frame["last_year"] = actual_total
    frame["change"] = forecast_total - actual_total
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["change_pct"] = np.where(actual_total != 0, 100.0 * frame["change"] / np.abs(actual_total), np.nan)
    frame = frame[weeks > 0]
    return frame.reindex(frame["change"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def representative_series(encoded: EncodedSeries, series: np.ndarray, count: int, changes: pd.DataFrame | None = None) -> list[int]:
    """Positions (into ``series``) of a few series worth a picture: the biggest seller of the
    last year, the median one, the one with the largest expected change, then the next biggest."""
    if count <= 0 or len(series) == 0:
        return []
    recent = encoded.target[np.asarray(series), max(0, encoded.n_history - SEASON) :]
    volume = np.nan_to_num(np.nansum(np.abs(recent), axis=1)) if recent.size else np.zeros(len(series))
    order = np.argsort(-volume, kind="stable")
    chosen: list[int] = []

    def add(position: int) -> None:
        if position not in chosen and len(chosen) < count:
            chosen.append(int(position))

    add(order[0])
    add(order[len(order) // 2])
    if changes is not None and len(changes):
        top = changes.iloc[0]
        match = np.flatnonzero(
            (encoded.keys["Store"].to_numpy()[series] == top["Store"]) & (encoded.keys["Dept"].to_numpy()[series] == top["Dept"])
        )
        if len(match):
            add(match[0])
    for position in order:
        add(position)
    return chosen


# -- scenarios ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureChange:
    """One change of a future feature: exactly one of multiply, add, set_to (on raw values:
    dollars of markdown, degrees, 0/1 flags)."""

    feature: str
    multiply: float | None = None
    add: float | None = None
    set_to: float | None = None

    def describe(self) -> str:
        if self.multiply is not None:
            return f"{self.feature} × {self.multiply:g}"
        if self.add is not None:
            return f"{self.feature} {'+' if self.add >= 0 else '-'} {abs(self.add):g}"
        return f"{self.feature} = {self.set_to:g}"


@dataclass(frozen=True)
class Scenario:
    """A named what-if: feature changes for a selection of series and weeks of the horizon,
    and (Store, Dept) pairs with no history to forecast (cold start). Empty selection lists
    mean "all"; unset weeks mean the whole horizon."""

    name: str
    description: str = ""
    stores: tuple[int, ...] = ()
    store_types: tuple[str, ...] = ()
    depts: tuple[int, ...] = ()
    first_week: str | None = None
    last_week: str | None = None
    changes: tuple[FeatureChange, ...] = ()
    new_series: tuple[tuple[int, int], ...] = ()  # (Store, Dept) pairs with no history

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "stores": list(self.stores),
            "store_types": list(self.store_types),
            "depts": list(self.depts),
            "first_week": self.first_week,
            "last_week": self.last_week,
            "changes": [{k: v for k, v in vars(c).items() if v is not None} for c in self.changes],
            "new_series": [{"Store": s, "Dept": d} for s, d in self.new_series],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Scenario:
        try:
            return cls(
                name=str(raw["name"]),
                description=str(raw.get("description", "")),
                stores=tuple(int(s) for s in raw.get("stores", [])),
                store_types=tuple(str(t) for t in raw.get("store_types", [])),
                depts=tuple(int(d) for d in raw.get("depts", [])),
                first_week=raw.get("first_week"),
                last_week=raw.get("last_week"),
                changes=tuple(FeatureChange(**c) for c in raw.get("changes", [])),
                new_series=tuple((int(p["Store"]), int(p["Dept"])) for p in raw.get("new_series", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"scenario {raw.get('name', '?')!r} is not a valid scenario: {exc}") from None

    def validate(self, encoding: Encoding) -> None:
        where = f"scenario {self.name!r}"
        if not _NAME.match(self.name):
            raise ConfigurationError(
                f"{where}: a name is 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit (it names a folder)"
            )
        if not self.changes and not self.new_series:
            raise ConfigurationError(f"{where} changes nothing: give feature changes, new (Store, Dept) pairs, or both")
        known = [f.name for f in encoding.dynamic_feat]
        for change in self.changes:
            if change.feature not in known:
                raise ConfigurationError(f"{where}: the model has no dynamic feature {change.feature!r}; it has {known}")
            given = [v for v in (change.multiply, change.add, change.set_to) if v is not None]
            if len(given) != 1:
                raise ConfigurationError(
                    f"{where}, change of {change.feature}: give exactly one of multiply, add, set_to (got {len(given)})"
                )
            if not all(np.isfinite(v) for v in given):
                raise ConfigurationError(f"{where}, change of {change.feature}: {given[0]} is not a finite number")
            if change.feature in _BINARY_FEATURES and (change.set_to not in (0, 1)):
                raise ConfigurationError(
                    f"{where}: {change.feature} is a 0/1 flag; set it with set_to: 0 or set_to: 1 (not {change.describe()})"
                )
        for value in self.store_types:
            _check_value(encoding, "Type", value, where)
        for value in self.stores:
            _check_value(encoding, "Store", value, where)
        for value in self.depts:
            _check_value(encoding, "Dept", value, where)

    def weeks_mask(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Which forecast weeks the changes apply to; weeks outside the horizon are refused."""
        first, last = dates[0], dates[-1]
        lo = _week(self.first_week, f"scenario {self.name!r}: first_week") if self.first_week else first
        hi = _week(self.last_week, f"scenario {self.name!r}: last_week") if self.last_week else last
        if lo < first or hi > last or lo > last or hi < first:
            raise ConfigurationError(
                f"scenario {self.name!r}: weeks {lo:%Y-%m-%d}..{hi:%Y-%m-%d} reach outside the forecast horizon "
                f"{first:%Y-%m-%d}..{last:%Y-%m-%d} (the {len(dates)} weeks after the last observed week)"
            )
        if lo > hi:
            raise ConfigurationError(f"scenario {self.name!r}: first_week {lo:%Y-%m-%d} is after last_week {hi:%Y-%m-%d}")
        mask = (dates >= lo) & (dates <= hi)
        if not mask.any():
            raise ConfigurationError(f"scenario {self.name!r}: no forecast week falls in {lo:%Y-%m-%d}..{hi:%Y-%m-%d}")
        return np.asarray(mask)

    def selects(self, keys: pd.DataFrame) -> np.ndarray:
        mask = np.ones(len(keys), dtype=bool)
        if self.stores:
            mask &= keys["Store"].isin(self.stores).to_numpy()
        if self.store_types:
            mask &= keys["Type"].isin(self.store_types).to_numpy()
        if self.depts:
            mask &= keys["Dept"].isin(self.depts).to_numpy()
        return mask


def _week(text: str, what: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


def _check_value(encoding: Encoding, name: str, value: Any, where: str) -> None:
    try:
        encoding.code(name, value)
    except EncodingError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def apply_scenario(
    records: Sequence[dict[str, Any]],
    keys: pd.DataFrame,
    h: int,
    dates: pd.DatetimeIndex,
    scenario: Scenario,
    encoding: Encoding,
    allow_empty: bool = False,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The records with the scenario's feature changes applied to the selected series in the
    selected future weeks (the last ``h`` feature weeks of each record). Changes are made on
    raw values (unscaled with the model's encoding, changed, scaled back); raising a markdown
    above 0 also sets AnyMarkDown, as the encoding would have. Returns the new records and
    which of them changed. A selection that matches no record is refused unless
    ``allow_empty`` (the scenario's cold-start pairs may be what it selects)."""
    scenario.validate(encoding)
    if not scenario.changes:
        return list(records), np.zeros(len(records), dtype=bool)
    weeks = scenario.weeks_mask(dates)
    selected = scenario.selects(keys)
    if not selected.any():
        if allow_empty:
            return list(records), np.zeros(len(records), dtype=bool)
        raise ConfigurationError(
            f"scenario {scenario.name!r} selects no forecastable series (stores {list(scenario.stores) or 'all'}, "
            f"types {list(scenario.store_types) or 'all'}, depts {list(scenario.depts) or 'all'})"
        )
    rows = {spec.name: (row, spec) for row, spec in enumerate(encoding.dynamic_feat)}
    out = []
    changed = np.zeros(len(records), dtype=bool)
    for i, record in enumerate(records):
        if not selected[i]:
            out.append(record)
            continue
        feats = np.array(record[FIELD_DYNAMIC_FEAT], dtype=np.float64, copy=True)
        future = slice(feats.shape[1] - h, feats.shape[1])
        for change in scenario.changes:
            row, spec = rows[change.feature]
            raw = to_raw(feats[row, future], spec)
            if change.multiply is not None:
                new = raw * change.multiply
            elif change.add is not None:
                new = raw + change.add
            else:
                new = np.full_like(raw, change.set_to)
            new = np.where(weeks, new, raw)
            feats[row, future] = np.where(weeks, to_scaled(new, spec), feats[row, future])  # other weeks: untouched bits
            if change.feature in MARKDOWNS and "AnyMarkDown" in rows:
                flag_row, _ = rows["AnyMarkDown"]
                feats[flag_row, future] = np.where(weeks & (new != 0), 1.0, feats[flag_row, future])
        if not np.array_equal(feats, np.asarray(record[FIELD_DYNAMIC_FEAT])):
            changed[i] = True
        out.append({**record, FIELD_DYNAMIC_FEAT: feats})
    return out, changed


# -- cold start --------------------------------------------------------------------------------
@dataclass
class ColdStart:
    """A (Store, Dept) pair with no history: its record, and the peers forecast beside it."""

    store: int
    dept: int
    type: str
    record: dict[str, Any]
    peers: np.ndarray  # positions in ForecastInputs.records: same Dept, stores of the same Type
    peer_rule: str


def cold_start(
    encoded: EncodedSeries, inputs: ForecastInputs, model_encoding: Encoding, store: int, dept: int, h: int, max_peers: int, model: str = "the model"
) -> ColdStart:
    """The record of a (Store, Dept) pair with no history: its categories in the model's
    encoding, its store's features up to T + h, and a target of missing values (so DeepAR
    forecasts from the embeddings and features alone). A value never seen in training is
    refused: DeepAR has no embedding to give it."""
    what = f"cold start of Store {store}, Dept {dept}"
    existing = (encoded.keys["Store"] == store) & (encoded.keys["Dept"] == dept)
    if existing.any():
        i = int(np.flatnonzero(existing.to_numpy())[0])
        weeks = int(np.count_nonzero(~np.isnan(encoded.target[i])))
        raise ConfigurationError(
            f"{what}: the pair has {weeks} observed week(s) of history, so it is forecast by the forecasts asset; "
            "cold start is for pairs with none"
        )
    codes = {}
    for name in CAT_NAMES[:2]:
        value = store if name == "Store" else dept
        try:
            codes[name] = model_encoding.code(name, value)
        except EncodingError as exc:
            raise EncodingError(
                f"{what} refused: {exc}. DeepAR learns one embedding per category value seen in training, so {model} "
                f"cannot forecast a series with {name}={value!r}; retrain on data that contains it"
            ) from None
    in_store = encoded.keys["Store"] == store
    if not in_store.any():
        raise ConfigurationError(f"{what}: Store {store} has no series in encoded_series, so its features are unknown")
    store_type = str(encoded.keys.loc[in_store, "Type"].iloc[0])
    try:
        codes["Type"] = model_encoding.code("Type", store_type)
    except EncodingError as exc:
        raise EncodingError(f"{what} refused: {exc}") from None
    cat = [codes[spec.name] for spec in model_encoding.cat]
    row = int(encoded.store_row[int(np.flatnonzero(in_store.to_numpy())[0])])
    require_future_features(encoded, h)
    end = encoded.n_history
    record = {
        FIELD_START: encoded.start_strings[0],
        FIELD_TARGET: np.full(end, np.nan),
        FIELD_CAT: cat,
        FIELD_DYNAMIC_FEAT: inputs.features[row, :, : end + h],
    }
    same_dept = (inputs.keys["Dept"] == dept).to_numpy()
    same_type = (inputs.keys["Type"] == store_type).to_numpy()
    peers, rule = np.flatnonzero(same_dept & same_type), f"Dept {dept} in stores of type {store_type}"
    if not len(peers):
        peers, rule = np.flatnonzero(same_dept), f"Dept {dept} in any store"
    if not len(peers):
        raise ConfigurationError(f"{what}: no store has Dept {dept} in the current data, so there is no peer to scale it by")
    if len(peers) > max_peers:
        # The biggest sellers of the last year: their level is the best-measured one.
        recent = encoded.target[inputs.series[peers], max(0, end - SEASON) :]
        peers = peers[np.argsort(-np.nan_to_num(np.nansum(np.abs(recent), axis=1)), kind="stable")[:max_peers]]
    return ColdStart(store, dept, store_type, record, np.sort(peers), rule)
