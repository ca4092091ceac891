"""Encoding flat weekly sales into DeepAR series, and decoding codes back.

One series per (Store, Dept). Categories (Store, Dept, store Type) are coded 0..N-1 in
sorted order of their original values; the mapping is kept in an :class:`Encoding` and saved
beside the channels as ``encoding.json``. Dynamic features are per store and week, filled and
scaled by a declared policy (:data:`FEATURE_POLICIES`), so no NaN remains.

Everything is held as dense arrays over a common weekly axis (``weeks``), which makes
cutting channels at any week a slice instead of a regrouping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from deepar_assets.constants import FIELD_CAT, FIELD_DYNAMIC_FEAT, FIELD_START, FIELD_TARGET, FREQ
from deepar_assets.domain.kaggle import MARKDOWNS, RawData
from deepar_assets.errors import EncodingError

Fill = Literal["none", "zero", "ffill"]
Scale = Literal["none", "standard", "log1p_standard"]

CAT_NAMES = ("Store", "Dept", "Type")

# name → (fill policy, scaling). "ffill" carries the last known value forward (and the first
# known value backward for leading gaps); "zero" means "no such event" (markdowns before they
# exist). "log1p_standard" is sign(x)·log1p(|x|), then standardized.
FEATURE_POLICIES: dict[str, tuple[Fill, Scale]] = {
    "IsHoliday": ("none", "none"),
    "Temperature": ("ffill", "standard"),
    "Fuel_Price": ("ffill", "standard"),
    **{m: ("zero", "log1p_standard") for m in MARKDOWNS},
    "AnyMarkDown": ("zero", "none"),  # 1 when any markdown is reported for the store-week
    "CPI": ("ffill", "standard"),
    "Unemployment": ("ffill", "standard"),
}
DEFAULT_FEATURES = tuple(FEATURE_POLICIES)
FEATURE_DECIMALS = 4


@dataclass(frozen=True)
class CatSpec:
    name: str
    values: list[Any]


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    fill: Fill
    scale: Scale
    mean: float = 0.0
    std: float = 1.0


@dataclass(frozen=True)
class Encoding:
    """Code ↔ original value for every ``cat`` position, and how each ``dynamic_feat`` row was
    made. Code ``i`` of cat position ``k`` means ``cat[k].values[i]``."""

    cat: list[CatSpec]
    dynamic_feat: list[FeatureSpec]
    freq: str = FREQ
    start_format: str = "%Y-%m-%d %H:%M:%S"
    holidays: list[str] = field(default_factory=list)  # weeks flagged IsHoliday (YYYY-MM-DD), for WMAE

    @property
    def cardinality(self) -> list[int]:
        return [len(c.values) for c in self.cat]

    def code(self, name: str, value: Any) -> int:
        spec = self._cat(name)
        try:
            return spec.values.index(value)
        except ValueError:
            raise EncodingError(
                f"{name}={value!r} was not seen when the encoding was made; known values: "
                f"{spec.values[:20]}{' …' if len(spec.values) > 20 else ''}"
            ) from None

    def decode(self, codes: list[int] | tuple[int, ...]) -> dict[str, Any]:
        """Turn a record's ``cat`` codes back into {"Store": …, "Dept": …, "Type": …}."""
        if len(codes) != len(self.cat):
            raise EncodingError(f"cat {list(codes)} has {len(codes)} codes; the encoding has {len(self.cat)} ({', '.join(c.name for c in self.cat)})")
        decoded = {}
        for spec, code in zip(self.cat, codes, strict=True):
            if not isinstance(code, (int, np.integer)) or not 0 <= code < len(spec.values):
                raise EncodingError(f"{spec.name} code {code!r} is unknown; expected an integer in 0..{len(spec.values) - 1}")
            decoded[spec.name] = spec.values[int(code)]
        return decoded

    def _cat(self, name: str) -> CatSpec:
        for spec in self.cat:
            if spec.name == name:
                return spec
        raise EncodingError(f"no category {name!r} in the encoding; it has {[c.name for c in self.cat]}")

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Encoding:
        try:
            raw = json.loads(data)
            return cls(
                cat=[CatSpec(**c) for c in raw["cat"]],
                dynamic_feat=[FeatureSpec(**f) for f in raw["dynamic_feat"]],
                freq=raw["freq"],
                start_format=raw["start_format"],
                holidays=list(raw.get("holidays", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:  # ValueError: not JSON at all
            raise EncodingError(f"encoding.json is not a valid encoding: {exc}") from None


@dataclass
class EncodedSeries:
    """All series on one weekly axis.

    ``weeks[:n_history]`` are the weeks with sales (the last one is T); later weeks carry only
    features (known future). ``target[i, w]`` is NaN where series i has no row for week w.
    ``first[i]`` is the index of series i's first observed week: its record starts there.
    """

    weeks: pd.DatetimeIndex
    n_history: int
    keys: pd.DataFrame  # Store, Dept, Type per series
    cat: np.ndarray  # (n_series, n_cat) int
    first: np.ndarray  # (n_series,) int
    target: np.ndarray  # (n_series, n_history) float64
    features: np.ndarray  # (n_stores, n_feat, n_weeks) float64, no NaN
    store_row: np.ndarray  # (n_series,) int: row of `features`
    encoding: Encoding
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def n_series(self) -> int:
        return len(self.first)

    @property
    def last_week(self) -> pd.Timestamp:
        return self.weeks[self.n_history - 1]

    @property
    def future_weeks(self) -> int:
        return len(self.weeks) - self.n_history

    def record(self, i: int, end: int, future: int = 0) -> dict[str, Any]:
        """Series i as a DeepAR record with target up to (excluding) week index ``end`` and
        dynamic features ``future`` weeks further."""
        start = int(self.first[i])
        if future > self.future_weeks + self.n_history - end:
            raise EncodingError(f"only {len(self.weeks) - end} feature weeks exist after week {end}; asked for {future}")
        return {
            FIELD_START: self.start_strings[start],
            FIELD_TARGET: self.target[i, start:end],
            FIELD_CAT: self.cat[i].tolist(),
            FIELD_DYNAMIC_FEAT: self.features[self.store_row[i], :, start : end + future],
        }

    @cached_property
    def start_strings(self) -> list[str]:
        """Each week formatted as a DeepAR ``start`` (formatted once, not once per record)."""
        return list(self.weeks.strftime(self.encoding.start_format))

    def records(self, indices: np.ndarray, end: int, future: int = 0) -> Iterator[dict[str, Any]]:
        for i in indices:
            yield self.record(int(i), end, future)


def _fill(matrix: np.ndarray, policy: Fill, name: str) -> np.ndarray:
    """Fill NaN in a (n_stores, n_weeks) matrix along weeks."""
    if policy == "zero":
        return np.nan_to_num(matrix, nan=0.0)
    if policy == "ffill":
        frame = pd.DataFrame(matrix.T)
        filled = frame.ffill().bfill().to_numpy().T
        if np.isnan(filled).any():
            raise EncodingError(f"feature {name}: a store has no value in any week, so it cannot be carried forward")
        return filled
    if np.isnan(matrix).any():
        raise EncodingError(f"feature {name}: has missing values but its fill policy is 'none'")
    return matrix


def _scale(matrix: np.ndarray, scale: Scale, history: int) -> tuple[np.ndarray, float, float]:
    if scale == "none":
        return matrix, 0.0, 1.0
    if scale == "log1p_standard":
        matrix = np.sign(matrix) * np.log1p(np.abs(matrix))
    reference = matrix[:, :history]
    mean = float(reference.mean())
    std = float(reference.std()) or 1.0
    return (matrix - mean) / std, mean, std


def encode(raw: RawData, features: tuple[str, ...] = DEFAULT_FEATURES) -> EncodedSeries:
    """Turn validated raw data into dense DeepAR series.

    The weekly axis runs from the first sales week to the last features week (T plus the
    known-future weeks). Scaling statistics are computed on the history weeks only.
    """
    unknown = [f for f in features if f not in FEATURE_POLICIES]
    if unknown:
        raise EncodingError(f"unknown dynamic feature(s) {unknown}; choose from {list(FEATURE_POLICIES)}")
    sales = raw.sales
    origin = sales["Date"].min()
    last = sales["Date"].max()
    feature_last = max(raw.features["Date"].max(), last)
    weeks = pd.date_range(origin, feature_last, freq=FREQ)
    n_history = int((last - origin).days // 7) + 1

    # Series keys as one integer per row (Store major, Dept minor): factorizing it is far
    # lighter than grouping on two columns when there are tens of millions of rows.
    store_col = sales["Store"].to_numpy(dtype=np.int64)
    dept_col = sales["Dept"].to_numpy(dtype=np.int64)
    dept_min = int(dept_col.min())
    span = int(dept_col.max()) - dept_min + 1
    row, uniques = pd.factorize(store_col * span + (dept_col - dept_min), sort=True)
    series = pd.DataFrame({"Store": uniques // span, "Dept": uniques % span + dept_min})
    stores = raw.stores.set_index("Store")
    series["Type"] = stores.loc[series["Store"], "Type"].to_numpy()
    cats = [CatSpec(name, sorted(series[name].unique().tolist())) for name in CAT_NAMES]
    codes = np.column_stack([np.searchsorted(np.asarray(c.values), series[c.name].to_numpy()) for c in cats])

    # Dense target matrix.
    col = ((sales["Date"].to_numpy() - np.datetime64(origin, "ns")) // np.timedelta64(7, "D")).astype(np.int64)
    target = np.full((len(series), n_history), np.nan)
    target[row, col] = sales["Weekly_Sales"].to_numpy()
    observed = ~np.isnan(target)
    first = observed.argmax(axis=1)

    # Store × week feature matrices.
    store_values = np.asarray(cats[0].values)
    feats = raw.features[raw.features["Date"].between(origin, feature_last)]
    f_row = np.searchsorted(store_values, feats["Store"].to_numpy())
    keep = (f_row < len(store_values)) & (store_values[np.minimum(f_row, len(store_values) - 1)] == feats["Store"].to_numpy())
    feats, f_row = feats[keep], f_row[keep]
    f_col = ((feats["Date"] - origin).dt.days // 7).to_numpy()

    def matrix(column: str) -> np.ndarray:
        out = np.full((len(store_values), len(weeks)), np.nan)
        out[f_row, f_col] = feats[column].to_numpy(dtype=np.float64)
        return out

    rows, specs = [], []
    for name in features:
        fill, scale = FEATURE_POLICIES[name]
        if name == "AnyMarkDown":
            values = (~np.isnan(np.stack([matrix(m) for m in MARKDOWNS]))).any(axis=0).astype(np.float64)
        elif name == "IsHoliday":
            values = matrix("IsHoliday")
            values = _holiday_fill(values)
        else:
            values = _fill(matrix(name), fill, name)
        values, mean, std = _scale(values, scale, n_history)
        rows.append(np.round(values, FEATURE_DECIMALS))
        specs.append(FeatureSpec(name, fill, scale, round(mean, 6), round(std, 6)))
    feature_tensor = np.stack(rows, axis=1) if rows else np.zeros((len(store_values), 0, len(weeks)))

    return EncodedSeries(
        weeks=weeks,
        n_history=n_history,
        keys=series,
        cat=codes.astype(np.int64),
        first=first.astype(np.int64),
        target=target,
        features=feature_tensor,
        store_row=codes[:, 0].astype(np.int64),
        encoding=Encoding(
            cat=cats,
            dynamic_feat=specs,
            holidays=sorted(f"{d:%Y-%m-%d}" for d in raw.features.loc[raw.features["IsHoliday"], "Date"].unique()),
        ),
        stats={
            "series": len(series),
            "rows": len(sales),
            "missing_weeks_inside_series": int((~observed).sum() - first.sum()),
            "negative_sales_rows": int((sales["Weekly_Sales"] < 0).sum()),
        },
    )


def _holiday_fill(values: np.ndarray) -> np.ndarray:
    """A holiday is a calendar fact shared by all stores: fill a store's missing week from the
    other stores' flag for that week (0 when no store has it)."""
    if not np.isnan(values).any():
        return values
    by_week = np.nanmax(np.where(np.isnan(values), -1.0, values), axis=0)
    by_week = np.where(by_week < 0, 0.0, by_week)
    return np.where(np.isnan(values), by_week[None, :], values)
