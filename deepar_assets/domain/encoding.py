"""Encoding a dataset's raw tables into dense DeepAR series, and decoding codes back.

Everything follows the dataset spec (:class:`~deepar_assets.domain.spec.DatasetSpec`):

- **Series.** One per unique combination of the target table's id columns, in the ids' natural
  (sorted) order, ids of any type.
- **cat.** The ids first (in ``spec.ids`` order), then the categorical and binned attributes of
  the metadata tables (joined on their keys). Each is coded 0..N-1 in the sorted order of its
  original values; :class:`Encoding` keeps the mapping and is saved as ``encoding.json``. A
  ``binned`` attribute is cut into ``bins`` quantile bins of the metadata table's values; its
  values are the labels ``q1`` … ``qN`` (zero-padded when N ≥ 10, so that they sort in bin
  order), and the bin edges are kept in :attr:`Encoding.bins`.
- **dynamic_feat.** The chosen features (default ``spec.default_features``), each a row of a
  ``(n_groups, n_feat, n_periods)`` array with no NaN:

  - a covariate, from its table (the target table's own are keyed by all ids; a related table's
    by its keys, none = global), filled by its policy and scaled with statistics of the training
    channel's periods only (up to T − 2h); ``lag_by_horizon`` covariates are shifted by the prediction length;
  - ``<name>_missing``: 1 where the covariate had no value, before filling;
  - derived features (``any_present``, ``any_positive``);
  - calendar features, normalized to [-0.5, 0.5] as GluonTS's time features are;
  - real attributes of the metadata tables, as constant features, standardized.

  A *feature group* is one combination of the union of the keys of the chosen features (one
  group when they are all global; one per series when a feature is keyed by all ids), and
  ``group_row[i]`` says which group series ``i`` takes its features from.

The period axis runs from the first target period T0 to the later of the last period of the
related tables (the features known ahead) and T + ``prediction_length``: calendar features and
real attributes are always known, so a dataset without covariates can be forecast too. Each feature records how far
it reaches past the last target period (:attr:`EncodedSeries.reach`); beyond its reach a
feature repeats its last known value, and :func:`require_known_ahead` refuses to forecast with
one that does not reach the horizon.

Fill policies: ``zero`` and ``value`` put that number where a value is missing; ``ffill``
carries the last value forward (and the first one back for leading gaps); ``none`` refuses a
missing value (NA) in the files, while a period without any row for a key is carried forward.

Everything is held as dense arrays over the common axis (``periods``), which makes cutting
channels at any period a slice instead of a regrouping.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import FIELD_CAT, FIELD_DYNAMIC_FEAT, FIELD_START, FIELD_TARGET
from deepar_assets.domain.covariate_audit import Finding, audit, training_end
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import DatasetSpec, spec_hash
from deepar_assets.domain.spec import periods as P
from deepar_assets.errors import EncodingError

FEATURE_DECIMALS = 4
STAT_DECIMALS = 6
MISSING_SUFFIX = "_missing"
CALENDAR_FEATURES = ("day_of_week", "day_of_month", "week_of_year", "month_of_year", "hour_of_day")


@dataclass(frozen=True)
class CatSpec:
    name: str
    values: list[Any]  # code i ↔ values[i], sorted original values


@dataclass(frozen=True)
class FeatureSpec:
    """How one ``dynamic_feat`` row was made. ``mean``/``std`` are the centre and spread used
    (median and IQR for ``robust``), always finite: ``raw = scaled * std + mean`` (before the
    ``log1p`` of ``log1p_standard``)."""

    name: str
    fill: str
    scale: str
    mean: float = 0.0
    std: float = 1.0


@dataclass(frozen=True)
class Encoding:
    """Code ↔ original value for every ``cat`` position, and how each ``dynamic_feat`` row was
    made. Code ``i`` of cat position ``k`` means ``cat[k].values[i]``."""

    cat: list[CatSpec]
    dynamic_feat: list[FeatureSpec]
    freq: str
    start_format: str = "%Y-%m-%d %H:%M:%S"
    weights: dict[str, float] = field(default_factory=dict)  # period (format_period) → weight, weights != 1 only
    ids: list[str] = field(default_factory=list)  # the id columns: the first len(ids) cat positions
    dataset: str = ""
    spec_hash: str = ""
    spec: dict = field(default_factory=dict)  # the spec, model_dump(mode="json")
    season_length: int = 1
    bins: dict[str, list[float]] = field(default_factory=dict)  # binned attribute → its inner bin edges
    # features whose values after the training channel it does not cover (covariate_audit.Finding)
    audit: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cardinality(self) -> list[int]:
        return [len(c.values) for c in self.cat]

    @property
    def cat_names(self) -> list[str]:
        return [c.name for c in self.cat]

    @property
    def attributes(self) -> list[str]:
        """The cat positions after the ids: categorical and binned attributes."""
        return [c.name for c in self.cat if c.name not in self.ids]

    def code(self, name: str, value: Any) -> int:
        spec = self._cat(name)
        try:
            return spec.values.index(value)
        except ValueError:
            raise EncodingError(
                f"{name}={value!r} was not seen when the encoding was made; known values: "
                f"{spec.values[:20]}{' …' if len(spec.values) > 20 else ''}"
            ) from None

    def decode(self, codes: Sequence[int] | np.ndarray) -> dict[str, Any]:
        """Turn a record's ``cat`` codes back into {cat name: original value}."""
        if len(codes) != len(self.cat):
            raise EncodingError(
                f"cat {list(codes)} has {len(codes)} codes; the encoding has {len(self.cat)} "
                f"({', '.join(c.name for c in self.cat)})"
            )
        decoded = {}
        for spec, code in zip(self.cat, codes, strict=True):
            if not isinstance(code, (int, np.integer)) or isinstance(code, bool) or not 0 <= code < len(spec.values):
                raise EncodingError(
                    f"{spec.name} code {code!r} is unknown; expected an integer in 0..{len(spec.values) - 1}"
                )
            decoded[spec.name] = spec.values[int(code)]
        return decoded

    def bin_label(self, name: str, value: float) -> str:
        """The label of the bin a number falls in, for a binned attribute (cold start)."""
        if name not in self.bins:
            raise EncodingError(f"{name!r} is not a binned attribute; binned: {sorted(self.bins)}")
        edges = self.bins[name]
        return _bin_labels(len(edges) + 1)[int(np.searchsorted(edges, float(value), side="right"))]

    def feature(self, name: str) -> FeatureSpec:
        for spec in self.dynamic_feat:
            if spec.name == name:
                return spec
        raise EncodingError(f"no dynamic feature {name!r}; the encoding has {[f.name for f in self.dynamic_feat]}")

    def period_weights(self, dates) -> np.ndarray:
        """The weight of each date (1.0 unless the spec's weights say otherwise)."""
        index = pd.DatetimeIndex(dates)
        if not self.weights or not len(index):
            return np.ones(len(index))
        fmt = "%Y-%m-%d %H:%M" if P.normalize(self.freq) == "h" else "%Y-%m-%d"
        return pd.Series(index.strftime(fmt)).map(self.weights).fillna(1.0).to_numpy(dtype=np.float64)

    def _cat(self, name: str) -> CatSpec:
        for spec in self.cat:
            if spec.name == name:
                return spec
        raise EncodingError(f"no category {name!r} in the encoding; it has {[c.name for c in self.cat]}")

    def to_json(self) -> bytes:
        """Valid JSON always: a non-finite number (which the encoding never makes) is written as a string."""
        return json.dumps(_finite(asdict(self)), indent=1, sort_keys=True, allow_nan=False).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Encoding:
        try:
            raw = json.loads(data)
            return cls(
                cat=[CatSpec(**c) for c in raw["cat"]],
                dynamic_feat=[FeatureSpec(**f) for f in raw["dynamic_feat"]],
                freq=raw["freq"],
                start_format=raw["start_format"],
                weights={str(k): float(v) for k, v in raw.get("weights", {}).items()},
                ids=list(raw.get("ids", [])),
                dataset=str(raw.get("dataset", "")),
                spec_hash=str(raw.get("spec_hash", "")),
                spec=dict(raw.get("spec", {})),
                season_length=int(raw.get("season_length", 1)),
                bins={str(k): [float(e) for e in v] for k, v in raw.get("bins", {}).items()},
                audit=[dict(f) for f in raw.get("audit", [])],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # ValueError: not JSON at all
            raise EncodingError(f"encoding.json is not a valid encoding: {exc!r}") from None


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


@dataclass
class EncodedSeries:
    """All series on one period axis.

    ``periods[:n_history]`` are the periods with targets (the last one is T); later periods
    carry only features (known ahead). ``target[i, p]`` is NaN where series i has no value for
    period p. ``first[i]`` is the index of series i's first observed period: its record starts
    there (a series with no observed value at all gets ``n_history - 1``, so that no channel
    takes it). ``features[group_row[i]]`` are series i's dynamic features.
    """

    periods: pd.DatetimeIndex
    n_history: int
    keys: pd.DataFrame  # one row per series: the cat names' original values
    cat: np.ndarray  # (n_series, n_cat) int64
    first: np.ndarray  # (n_series,) int64
    target: np.ndarray  # (n_series, n_history) float64
    features: np.ndarray  # (n_groups, n_feat, n_periods) float64, no NaN
    group_row: np.ndarray  # (n_series,) int64: row of `features`
    encoding: Encoding
    spec: DatasetSpec
    stats: dict[str, int] = field(default_factory=dict)
    reach: dict[str, int] = field(default_factory=dict)  # feature → periods known past T
    group_keys: pd.DataFrame | None = None  # one row per feature group: its key columns' values

    @property
    def n_series(self) -> int:
        return len(self.first)

    @property
    def last_period(self) -> pd.Timestamp:
        return self.periods[self.n_history - 1]

    @property
    def future_periods(self) -> int:
        return len(self.periods) - self.n_history

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.encoding.dynamic_feat]

    def feature(self, name: str) -> np.ndarray:
        """One feature's (n_groups, n_periods) rows."""
        names = self.feature_names
        if name not in names:
            raise EncodingError(f"no dynamic feature {name!r}; the encoding has {names}")
        return self.features[:, names.index(name), :]

    def weights(self, dates) -> np.ndarray:
        return self.encoding.period_weights(dates)

    def record(self, i: int, end: int, future: int = 0) -> dict[str, Any]:
        """Series i as a DeepAR record with target up to (excluding) period index ``end`` and
        dynamic features ``future`` periods further."""
        start = int(self.first[i])
        if end + future > len(self.periods):
            raise EncodingError(
                f"only {len(self.periods) - end} feature periods exist after period {end}; asked for {future}"
            )
        return {
            FIELD_START: self.start_strings[start],
            FIELD_TARGET: self.target[i, start:end],
            FIELD_CAT: self.cat[i].tolist(),
            FIELD_DYNAMIC_FEAT: self.features[self.group_row[i], :, start : end + future],
        }

    @cached_property
    def start_strings(self) -> list[str]:
        """Each period formatted as a DeepAR ``start`` (formatted once, not once per record)."""
        return list(self.periods.strftime(self.encoding.start_format))

    def records(self, indices: np.ndarray, end: int, future: int = 0) -> Iterator[dict[str, Any]]:
        for i in indices:
            yield self.record(int(i), end, future)


def require_known_ahead(encoded: EncodedSeries, h: int) -> None:
    """Refuse to forecast ``h`` periods ahead unless every dynamic feature is known that far
    past T; the error names each feature that falls short and how far it reaches."""
    short = {name: encoded.reach.get(name, encoded.future_periods) for name in encoded.feature_names}
    short = {name: reach for name, reach in short.items() if reach < h}
    if encoded.future_periods < h and not short:
        short = {"(the period axis)": encoded.future_periods}
    if short:
        last = encoded.last_period
        alias = encoded.encoding.freq
        by_reach: dict[int, list[str]] = {}
        for name, reach in short.items():
            by_reach.setdefault(reach, []).append(name)
        parts = [
            f"{', '.join(names)} reach{'es' if len(names) == 1 else ''} {reach} period(s) past T (to "
            f"{P.format_period(P.shift(last, reach, alias), alias)})"
            for reach, names in sorted(by_reach.items())
        ]
        raise EncodingError(
            f"forecasting {h} period(s) past T = {P.format_period(last, alias)} needs every dynamic feature known "
            f"that far ahead, but {'; '.join(parts)}. Extend the related table(s) to "
            f"{P.format_period(P.shift(last, h, alias), alias)}, leave the feature(s) out, or declare the "
            "covariate lag_by_horizon: true"
        )


# --- keys -------------------------------------------------------------------------------------


def _factorize(values: np.ndarray | pd.Series, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes in sorted order of the values, and the sorted unique values."""
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError as exc:  # mixed types cannot be sorted
        raise EncodingError(f"{what}: values of mixed types cannot be ordered ({exc})") from None
    if (codes < 0).any():
        raise EncodingError(f"{what}: {int((codes < 0).sum())} missing value(s)")
    return codes.astype(np.int64), np.asarray(uniques)


def _combine(codes: list[np.ndarray], sizes: list[int], n: int) -> np.ndarray:
    """One int64 key per row from per-column codes, ordered lexicographically by the columns.
    Partial keys are re-factorized whenever the product of sizes would overflow."""
    out = np.zeros(n, dtype=np.int64)
    span = 1
    for column, size in zip(codes, sizes, strict=True):
        if span * max(size, 1) >= 2**62:
            out, uniques = pd.factorize(out, sort=True)
            out, span = out.astype(np.int64), len(uniques)
        out = out * max(size, 1) + column
        span *= max(size, 1)
    return out


def _python(values: np.ndarray) -> list[Any]:
    """Plain Python values (int, float, str) for JSON."""
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]


def _describe(keys: pd.DataFrame, row: int, columns: list[str]) -> str:
    """``shop=1, sku=5``: a series' key values, as in the files."""
    return ", ".join(f"{c}={_python(keys[c].to_numpy()[row : row + 1])[0]!r}" for c in columns)


def _bin_labels(n: int) -> list[str]:
    width = len(str(n)) if n >= 10 else 1
    return [f"q{k + 1:0{width}d}" for k in range(n)]


@dataclass
class _Keys:
    """The series and their id codes, and how to find the rows of other tables among them."""

    ids: list[str]
    values: dict[str, np.ndarray]  # id → sorted unique values
    series_codes: dict[str, np.ndarray]  # id → per-series code

    @property
    def n(self) -> int:
        return len(next(iter(self.series_codes.values())))

    def locate(self, frame: pd.DataFrame, keys: list[str], what: str) -> tuple[np.ndarray, np.ndarray, int]:
        """For a table keyed by ``keys``: (row → key-combo index or -1 when no series has it,
        series → key-combo index, number of combos), combos in sorted order."""
        if not keys:
            return np.zeros(len(frame), dtype=np.int64), np.zeros(self.n, dtype=np.int64), 1
        rows = len(frame)
        row_codes, series_codes, sizes = [], [], []
        known = np.ones(rows, dtype=bool)
        for key in keys:
            code = pd.Index(self.values[key]).get_indexer(frame[key].to_numpy())
            known &= code >= 0
            row_codes.append(np.where(code >= 0, code, 0).astype(np.int64))
            series_codes.append(self.series_codes[key])
            sizes.append(len(self.values[key]))
        joint = _combine(
            [np.concatenate([r, s]) for r, s in zip(row_codes, series_codes, strict=True)], sizes, rows + self.n
        )
        row_key, series_key = joint[:rows], joint[rows:]
        combos, series_combo = np.unique(series_key, return_inverse=True)
        at = np.searchsorted(combos, row_key)
        found = known & (at < len(combos)) & (combos[np.minimum(at, len(combos) - 1)] == row_key)
        return np.where(found, at, -1).astype(np.int64), series_combo.astype(np.int64), len(combos)


# --- features ---------------------------------------------------------------------------------


def _ffill(matrix: np.ndarray) -> np.ndarray:
    """Carry values forward along axis 1, then the first value back for leading gaps."""
    if not matrix.size:
        return matrix.copy()
    present = ~np.isnan(matrix)
    columns = np.arange(matrix.shape[1])
    last = np.maximum.accumulate(np.where(present, columns, -1), axis=1)
    rows = np.arange(matrix.shape[0])[:, None]
    out = np.where(last >= 0, matrix[rows, np.maximum(last, 0)], np.nan)
    first = present.argmax(axis=1)
    lead = np.isnan(out)
    return np.where(lead, matrix[np.arange(matrix.shape[0]), first][:, None], out)


def _extend(matrix: np.ndarray, upto: int) -> np.ndarray:
    """Columns from ``upto`` on repeat column ``upto - 1`` (beyond a feature's reach)."""
    if 0 < upto < matrix.shape[1]:
        matrix = matrix.copy()
        matrix[:, upto:] = matrix[:, upto - 1 : upto]
    return matrix


def _finite_stats(values: np.ndarray, scale: str) -> tuple[float, float]:
    """Centre and spread of ``values`` (standard: mean/std; robust: median/IQR), computed on
    values divided by their largest magnitude so that nothing overflows; always finite, the
    spread > 0 (1 for a constant)."""
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    top = float(np.max(np.abs(values)))
    if top == 0:
        return 0.0, 1.0
    unit = values / top
    if scale == "robust":
        q25, centre, q75 = np.quantile(unit, [0.25, 0.5, 0.75])
        spread = q75 - q25
        if not spread > 0:
            spread = float(np.std(unit))
    else:
        centre = float(np.mean(unit))
        spread = float(np.std(unit))
    mean, std = float(centre) * top, float(spread) * top
    if not (math.isfinite(std) and std > 0):
        std = 1.0
    if not math.isfinite(mean):
        mean = 0.0
    return mean, std


def _scale(matrix: np.ndarray, scale: str, history: int) -> tuple[np.ndarray, float, float]:
    """Scale a (rows, periods) matrix with statistics of its first ``history`` columns."""
    if scale == "none":
        return matrix, 0.0, 1.0
    if scale == "log1p_standard":
        matrix = np.sign(matrix) * np.log1p(np.abs(matrix))
    mean, std = _finite_stats(matrix[:, :history], scale)
    with np.errstate(over="ignore", invalid="ignore"):
        out = (matrix - mean) / std
        if not np.isfinite(out).all():  # a magnitude near the float limit: the same, computed in units of it
            top = float(np.max(np.abs(matrix[np.isfinite(matrix)]))) or 1.0
            out = (matrix / top - mean / top) / (std / top)
    top = np.finfo(np.float64).max
    recorded_mean = round(mean, STAT_DECIMALS) if abs(mean) < 1e12 else mean
    return np.nan_to_num(out, nan=0.0, posinf=top, neginf=-top), recorded_mean, _round_spread(std)


def _round_spread(std: float) -> float:
    rounded = round(std, STAT_DECIMALS) if std < 1e12 else std
    return rounded if rounded > 0 else std


def _round(values: np.ndarray) -> np.ndarray:
    """Features rounded to FEATURE_DECIMALS (smaller files); huge magnitudes are left as they are
    (rounding them would overflow)."""
    small = np.abs(values) < 1e12
    return np.where(small, np.round(np.where(small, values, 0.0), FEATURE_DECIMALS), values)


def calendar_feature(name: str, periods: pd.DatetimeIndex) -> np.ndarray:
    """A calendar feature, normalized to [-0.5, 0.5] as GluonTS's time features are."""
    if name == "day_of_week":
        return np.asarray(periods.dayofweek, dtype=np.float64) / 6.0 - 0.5
    if name == "day_of_month":
        return (np.asarray(periods.day, dtype=np.float64) - 1) / 30.0 - 0.5
    if name == "week_of_year":
        week = np.asarray(periods.isocalendar().week, dtype=np.float64)
        return (week - 1) / 52.0 - 0.5
    if name == "month_of_year":
        return (np.asarray(periods.month, dtype=np.float64) - 1) / 11.0 - 0.5
    if name == "hour_of_day":
        return np.asarray(periods.hour, dtype=np.float64) / 23.0 - 0.5
    raise EncodingError(f"unknown calendar feature {name!r}; choose from {list(CALENDAR_FEATURES)}")


@dataclass
class _Covariate:
    """One covariate on its key combos over the extended axis, before filling."""

    name: str
    keys: list[str]
    matrix: np.ndarray  # (n_combos, pad + n_periods), NaN where missing
    series_combo: np.ndarray  # (n_series,)
    na_values: np.ndarray  # (n_combos, pad + n_periods) bool: a row was there with NA
    reach: int  # periods known past T (after lagging)
    lagged: bool


# --- encode -----------------------------------------------------------------------------------


def encode(raw: RawData, features: Sequence[str] | None = None) -> EncodedSeries:
    """Turn validated raw tables into dense DeepAR series, as the spec declares.

    ``features``: the dynamic features, in order (None: ``spec.default_features``). Scaling
    statistics come from the training channel's periods only (up to T − 2h); every feature is
    audited against it (:mod:`deepar_assets.domain.covariate_audit`) and a dropped one is left
    out of ``dynamic_feat``.
    """
    spec = raw.spec
    chosen = list(spec.default_features if features is None else features)
    available = spec.available_features()
    unknown = [f for f in chosen if f not in available]
    if unknown:
        raise EncodingError(f"unknown dynamic feature(s) {unknown}; choose from {available}")
    if len(set(chosen)) != len(chosen):
        raise EncodingError(f"dynamic features {chosen} name a feature twice")

    ids, time_col, target_col = spec.ids, spec.time, spec.target_column
    alias, h = spec.frequency, spec.prediction_length
    table = raw.target
    if table.empty:
        raise EncodingError(f"{spec.target.name}: no rows to encode")
    missing = [c for c in (*ids, time_col, target_col) if c not in table.columns]
    if missing:
        raise EncodingError(f"{spec.target.name}: columns {missing} are missing (it has {list(table.columns)})")

    # -- series ---------------------------------------------------------------------------------
    id_codes, id_values = [], {}
    for name in ids:
        codes, uniques = _factorize(table[name].to_numpy(), f"{spec.target.name}.{name}")
        id_codes.append(codes)
        id_values[name] = uniques
    joint = _combine(id_codes, [len(id_values[n]) for n in ids], len(table))
    row, series_joint = pd.factorize(joint, sort=True)  # hashing: lighter than sorting every row
    row = row.astype(np.int64)
    n_series = len(series_joint)
    some_row = np.zeros(n_series, dtype=np.int64)
    some_row[row] = np.arange(len(row))  # any row of each series: they share its id codes
    series_codes = {name: id_codes[k][some_row] for k, name in enumerate(ids)}
    keys = pd.DataFrame({name: id_values[name][series_codes[name]] for name in ids})
    for name in ids:
        if spec.target.id_types.get(name) == "int":
            keys[name] = keys[name].astype(np.int64)
    locator = _Keys(ids, id_values, series_codes)

    # -- period axis -----------------------------------------------------------------------------
    times = pd.DatetimeIndex(table[time_col])
    origin, last = times.min(), times.max()
    related_last = {
        name: frame[spec.related_table(name).time.column].max() for name, frame in raw.related.items() if len(frame)
    }
    end = max([P.shift(last, h, alias), *related_last.values()])
    periods = P.period_index(origin, end, alias)
    n_history = int(P.steps_between(origin, [last], alias)[0]) + 1
    n_periods = len(periods)
    if len(periods) < n_history or periods[n_history - 1] != last:
        raise EncodingError(
            f"{spec.target.name}.{time_col}: the timestamps are not on the {alias} grid from {origin} (the last, "
            f"{last}, is not a period of it)"
        )

    # -- target ----------------------------------------------------------------------------------
    col = np.asarray(P.steps_between(origin, times, alias), dtype=np.int64)
    target = np.full((n_series, n_history), np.nan)
    target[row, col] = table[target_col].to_numpy(dtype=np.float64)
    observed = ~np.isnan(target)
    any_observed = observed.any(axis=1)
    first = np.where(any_observed, observed.argmax(axis=1), n_history - 1).astype(np.int64)
    last_obs = n_history - 1 - observed[:, ::-1].argmax(axis=1)
    inside = np.where(any_observed, last_obs - first + 1, 0)

    # -- cat: ids, then categorical and binned attributes ----------------------------------------
    cats = [CatSpec(name, _python(id_values[name])) for name in ids]
    cat_codes = [series_codes[name] for name in ids]
    bins: dict[str, list[float]] = {}
    attribute_values: dict[str, np.ndarray] = {}  # real attributes per series
    for meta in spec.metadata:
        frame = raw.metadata.get(meta.name)
        if frame is None:
            raise EncodingError(f"metadata table {meta.name} was not read (tables: {sorted(raw.metadata)})")
        at, series_combo, n_combos = locator.locate(frame, list(meta.keys), f"metadata table {meta.name}")
        row_of = np.full(n_combos, -1, dtype=np.int64)  # the frame's row of each key combination
        hit = at >= 0
        counts = np.bincount(at[hit], minlength=n_combos)
        if (counts > 1).any():
            dup = int(np.flatnonzero(counts > 1)[0])
            example = frame.loc[hit][at[hit] == dup].iloc[0]
            raise EncodingError(
                f"metadata table {meta.name}: {int((counts > 1).sum())} key(s) have more than one row, e.g. "
                + ", ".join(f"{k}={_python(np.asarray([example[k]]))[0]!r}" for k in meta.keys)
            )
        row_of[at[hit]] = np.flatnonzero(hit)
        lacking = row_of[series_combo] < 0
        if lacking.any():
            example = _describe(keys, int(np.flatnonzero(lacking)[0]), list(meta.keys))
            raise EncodingError(
                f"metadata table {meta.name}: no row for {int(lacking.sum())} series, e.g. {example}"
                + f"; every series needs its attributes ({', '.join(meta.attributes)})"
            )
        rows_of_series = row_of[series_combo]
        for name, attribute in meta.attributes.items():
            if name not in frame.columns:
                raise EncodingError(f"metadata table {meta.name}: no column {name!r} (it has {list(frame.columns)})")
            column = frame[name].to_numpy()
            if attribute.kind == "real":
                attribute_values[name] = pd.to_numeric(pd.Series(column[rows_of_series]), errors="coerce").to_numpy(
                    dtype=np.float64
                )
                continue
            if attribute.kind == "binned":
                numbers = pd.to_numeric(pd.Series(column), errors="coerce").to_numpy(dtype=np.float64)
                known = numbers[~np.isnan(numbers)]  # every row of the table, with a series or not
                if not known.size:
                    raise EncodingError(f"metadata table {meta.name}: attribute {name} has no numeric value to bin")
                edges = np.unique(np.quantile(known, np.linspace(0, 1, attribute.bins + 1)[1:-1]))
                bins[name] = [float(e) for e in edges]
                per_series = numbers[rows_of_series]
                if np.isnan(per_series).any():
                    bad = int(np.flatnonzero(np.isnan(per_series))[0])
                    raise EncodingError(
                        f"metadata table {meta.name}: attribute {name} is missing or not a number for series "
                        + _describe(keys, bad, ids)
                    )
                labels = np.asarray(_bin_labels(len(edges) + 1), dtype=object)
                values = labels[np.searchsorted(edges, per_series, side="right")]
            else:
                values = column[rows_of_series]
                if pd.isna(values).any():
                    bad = int(np.flatnonzero(pd.isna(values))[0])
                    raise EncodingError(
                        f"metadata table {meta.name}: attribute {name} is missing for series "
                        + _describe(keys, bad, ids)
                    )
            codes, uniques = _factorize(values, f"metadata table {meta.name}.{name}")
            keys[name] = values
            cats.append(CatSpec(name, _python(uniques)))
            cat_codes.append(codes)
    cat = np.column_stack(cat_codes).astype(np.int64) if cat_codes else np.zeros((n_series, 0), dtype=np.int64)

    # -- feature groups --------------------------------------------------------------------------
    covariate_columns = spec.covariate_columns()
    derived = {d.name: d for d in spec.derived}
    real_attributes = spec.real_attributes()
    indicators = {f"{c}{MISSING_SUFFIX}": c for c in covariate_columns}

    def sources(name: str) -> list[str]:
        if name in covariate_columns:
            return [name]
        if name in indicators:
            return [indicators[name]]
        if name in derived:
            return derived[name].columns
        return []

    needed = list(dict.fromkeys(c for f in chosen for c in sources(f)))
    group_cols = set()
    for name in needed:
        group_cols |= set(spec.covariate_keys(name))
    for name in chosen:
        if name in real_attributes:
            group_cols |= set(spec.attribute(name)[0].keys)
    group_cols_ordered = [c for c in ids if c in group_cols]
    group_frame = keys[group_cols_ordered]
    _, group_row, n_groups = locator.locate(group_frame, group_cols_ordered, "feature groups")
    representative = np.unique(group_row, return_index=True)[1]  # the first series of each group
    group_keys = keys.loc[representative, group_cols_ordered].reset_index(drop=True)

    # -- covariates on their own keys ------------------------------------------------------------
    pad = h if any(spec.covariate(c).lag_by_horizon for c in needed) else 0
    ext_origin = P.shift(origin, -pad, alias)
    covariates: dict[str, _Covariate] = {}
    for name in needed:
        policy = spec.covariate(name)
        cov_keys = spec.covariate_keys(name)
        if name in spec.target.covariates:
            frame, source_name, t_col = table, spec.target.name, time_col
            if name not in frame.columns:
                raise EncodingError(f"{source_name}: covariate column {name!r} is missing")
            at, series_combo, n_combos = row, np.arange(n_series, dtype=np.int64), n_series
            source_last = last
        else:
            rel = next(t for t in spec.related if name in t.covariates)
            frame, source_name, t_col = raw.related.get(rel.name), rel.name, rel.time.column
            if frame is None:
                raise EncodingError(f"related table {rel.name} was not read (tables: {sorted(raw.related)})")
            if name not in frame.columns:
                raise EncodingError(f"related table {rel.name}: covariate column {name!r} is missing")
            at, series_combo, n_combos = locator.locate(frame, cov_keys, f"related table {rel.name}")
            source_last = related_last.get(rel.name, origin)
        stamps = pd.DatetimeIndex(frame[t_col])
        c = np.asarray(P.steps_between(ext_origin, stamps, alias), dtype=np.int64)
        keep = (at >= 0) & (c >= 0) & (c < pad + n_periods)
        values = frame[name].to_numpy(dtype=np.float64)
        matrix = np.full((n_combos, pad + n_periods), np.nan)
        na_values = np.zeros((n_combos, pad + n_periods), dtype=bool)
        matrix[at[keep], c[keep]] = values[keep]
        na_values[at[keep], c[keep]] = np.isnan(values[keep])
        reach = int(P.steps_between(origin, [source_last], alias)[0]) - (n_history - 1)
        if policy.lag_by_horizon:
            reach += h
            matrix, na_values = matrix[:, :n_periods], na_values[:, :n_periods]
        else:
            matrix, na_values = matrix[:, pad:], na_values[:, pad:]
        matrix[np.isinf(matrix)] = np.nan  # ±inf is no usable value
        covariates[name] = _Covariate(name, cov_keys, matrix, series_combo, na_values, reach, policy.lag_by_horizon)

    def to_groups(cov: _Covariate, matrix: np.ndarray) -> np.ndarray:
        combo_of_group = np.zeros(n_groups, dtype=np.int64)
        combo_of_group[group_row] = cov.series_combo
        return matrix[combo_of_group]

    # -- the features ----------------------------------------------------------------------------
    rows, specs, feature_reach = [], [], {}
    full = n_periods - n_history  # reach of what is always known
    train_end = training_end(n_history, h)  # scaling statistics and the audit's reference: the training channel
    findings: list[Finding] = []

    def audited(name: str, matrix: np.ndarray, limit: int, rule: str) -> np.ndarray | None:
        kept, finding = audit(name, matrix, train_end, limit, periods, alias, rule)
        if finding is not None:
            findings.append(finding)
        return kept

    for name in chosen:
        if name in covariate_columns:
            cov, policy = covariates[name], spec.covariate(name)
            limit = min(n_periods, n_history + max(cov.reach, -n_history + 1))
            matrix = cov.matrix.copy()
            matrix[:, limit:] = np.nan
            if policy.fill == "none" and cov.na_values[:, :limit].any():
                combo, period = np.argwhere(cov.na_values[:, :limit])[0]
                series = int(np.flatnonzero(cov.series_combo == combo)[0])
                where = _describe(keys, series, cov.keys)
                raise EncodingError(
                    f"covariate {name}: {int(cov.na_values[:, :limit].sum())} missing value(s) (NA), e.g. "
                    f"{(where + ' at ') if where else ''}{P.format_period(periods[period], alias)}, but its fill "
                    "policy is 'none'; declare fill: zero, ffill or value"
                )
            if policy.fill == "zero":
                filled = np.nan_to_num(matrix, nan=0.0)
            elif policy.fill == "value":
                filled = np.where(np.isnan(matrix), policy.fill_value, matrix)
            else:
                filled = _ffill(matrix)
                if np.isnan(filled).any():
                    combo = int(np.flatnonzero(np.isnan(filled).all(axis=1))[0])
                    series = int(np.flatnonzero(cov.series_combo == combo)[0])
                    where = _describe(keys, series, cov.keys) or "the table"
                    raise EncodingError(
                        f"covariate {name}: {where} has no value in any period, so it cannot be carried forward "
                        f"(fill: {policy.fill}); declare fill: zero or value"
                    )
            kept = audited(name, filled, limit, policy.outside_training)
            if kept is None:
                continue
            filled = _extend(kept, limit)
            values, mean, std = _scale(filled, policy.scale, train_end)
            rows.append(to_groups(cov, _round(values)))
            specs.append(FeatureSpec(name, policy.fill, policy.scale, mean, std))
            feature_reach[name] = cov.reach
        elif name in indicators:
            cov = covariates[indicators[name]]
            limit = min(n_periods, n_history + max(cov.reach, -n_history + 1))
            flag = audited(
                name, np.isnan(cov.matrix).astype(np.float64), limit, spec.covariate(cov.name).outside_training
            )
            if flag is None:
                continue
            rows.append(to_groups(cov, _extend(flag, limit)))
            specs.append(FeatureSpec(name, "none", "none"))
            feature_reach[name] = cov.reach
        elif name in derived:
            item = derived[name]
            flags = np.zeros((n_groups, n_periods), dtype=bool)
            for column in item.columns:
                matrix = to_groups(covariates[column], covariates[column].matrix)
                flags |= ~np.isnan(matrix) if item.any_present is not None else np.nan_to_num(matrix, nan=0.0) > 0
            feature_reach[name] = min(covariates[c].reach for c in item.columns)
            limit = min(n_periods, n_history + max(feature_reach[name], -n_history + 1))
            kept = audited(name, flags.astype(np.float64), limit, item.outside_training)
            if kept is None:
                del feature_reach[name]
                continue
            rows.append(_extend(kept, limit))
            specs.append(FeatureSpec(name, "zero", "none"))
        elif name in CALENDAR_FEATURES:
            rows.append(np.broadcast_to(_round(calendar_feature(name, periods)), (n_groups, n_periods)))
            specs.append(FeatureSpec(name, "none", "none"))
            feature_reach[name] = full
        elif name in real_attributes:
            per_series = attribute_values[name]
            mean, std = _finite_stats(per_series, "standard")
            scaled = np.nan_to_num((np.nan_to_num(per_series, nan=mean) - mean) / std, nan=0.0)
            per_group = np.zeros(n_groups)
            per_group[group_row] = scaled
            rows.append(np.broadcast_to(_round(per_group)[:, None], (n_groups, n_periods)))
            specs.append(FeatureSpec(name, "value", "standard", mean, std))
            feature_reach[name] = full
        else:  # pragma: no cover - available_features() lists nothing else
            raise EncodingError(f"dynamic feature {name!r}: unknown kind")
    feature_tensor = (
        np.ascontiguousarray(np.stack(rows, axis=1), dtype=np.float64)
        if rows
        else np.zeros((n_groups, 0, n_periods), dtype=np.float64)
    )

    # -- weights ---------------------------------------------------------------------------------
    weights: dict[str, float] = {}
    rule = spec.evaluation.weights
    if rule is not None and rule.weight != 1:
        if rule.column in spec.target.covariates:
            frame, t_col = table, time_col
        else:
            rel = next(t for t in spec.related if rule.column in t.covariates)
            frame, t_col = (
                raw.related.get(rel.name, pd.DataFrame(columns=[rel.time.column, rule.column])),
                rel.time.column,
            )
        flagged = pd.DatetimeIndex(frame.loc[frame[rule.column].to_numpy(dtype=np.float64) > 0, t_col].unique())
        weights = {P.format_period(d, alias): float(rule.weight) for d in flagged.sort_values()}

    encoding = Encoding(
        cat=cats,
        dynamic_feat=specs,
        freq=alias,
        start_format="%Y-%m-%d %H:%M:%S",
        weights=weights,
        ids=list(ids),
        dataset=spec.name,
        spec_hash=spec_hash(spec),
        spec=spec.model_dump(mode="json"),
        season_length=int(spec.season_length),
        bins=bins,
        audit=[f.to_dict() for f in findings],
    )
    target_values = table[target_col].to_numpy(dtype=np.float64)
    stats = {
        "series": n_series,
        "rows": len(table),
        "history_periods": n_history,
        "future_periods": n_periods - n_history,
        "feature_groups": n_groups,
        "missing_periods_inside_series": int((inside - observed.sum(axis=1)).sum()),
        "series_without_values": int((~any_observed).sum()),
        "negative_target_rows": int((target_values < 0).sum()),
        # A real attribute missing for a series takes the mean (0 once standardized).
        **{
            f"{name}_missing_series": int(np.isnan(v).sum())
            for name, v in attribute_values.items()
            if np.isnan(v).any()
        },
    }
    return EncodedSeries(
        periods=periods,
        n_history=n_history,
        keys=keys,
        cat=cat,
        first=first,
        target=target,
        features=feature_tensor,
        group_row=group_row.astype(np.int64),
        encoding=encoding,
        spec=spec,
        stats=stats,
        reach={name: min(r, full) for name, r in feature_reach.items()},  # nothing reaches past the axis
        group_keys=group_keys,
    )
