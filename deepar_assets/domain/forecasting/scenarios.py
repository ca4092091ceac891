"""What-if scenarios: named changes of known-ahead features for a selection of series and
periods of the horizon, plus new id combinations to forecast from their categories alone
(cold start, :mod:`deepar_assets.domain.forecasting.cold_start`).

A scenario selects series by any id column or categorical attribute (``select``: column →
values; every column given must match, values within a column are alternatives; nothing
selected = every series). It changes features by name, among those the model was trained
with; which can be changed comes from the spec the model's encoding records:

- a known-ahead covariate (``known_ahead: true``): changed on raw values (unscaled with the
  model's encoding, changed, scaled back);
- a ``bool`` covariate or a derived indicator (``any_present`` / ``any_positive``): a 0/1
  flag, set with ``set_to: 0`` or ``1`` only;
- calendar features, real attributes, "was missing" indicators and covariates used lagged by
  the horizon are facts or past values, and are refused.

Raising a covariate also raises the derived indicators built on it, as the encoding would
have; a changed period's "was missing" indicator is cleared (the scenario declares its value).
Periods are named by their label on the spec's frequency (``first_period``/``last_period``, a
date such as 2012-11-23 for W-FRI weeks, 2019-01-01 for MS months).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import FIELD_DYNAMIC_FEAT
from deepar_assets.domain.encoding import Encoding
from deepar_assets.domain.forecasting.keys import dataset_spec, id_columns, match_value, plain
from deepar_assets.domain.forecasting.translate import to_raw, to_scaled
from deepar_assets.domain.spec import DatasetSpec, periods
from deepar_assets.errors import ConfigurationError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # whole names: fullmatch
CHANGEABLE = ("number", "bool", "derived")
BINARY = ("bool", "derived")
_KEYS = ("name", "description", "select", "first_period", "last_period", "changes", "new_series")


# -- what each feature is ----------------------------------------------------------------------
def feature_roles(spec: DatasetSpec | None) -> dict[str, str]:
    """Feature name → its role: ``number`` or ``bool`` (a known-ahead covariate), ``lagged``
    (a covariate used lagged by the horizon), ``indicator`` (<covariate>_missing), ``derived``,
    ``calendar``, ``attribute`` (a real static attribute). Without a spec: empty."""
    roles: dict[str, str] = {}
    if spec is None:
        return roles
    for name in spec.covariate_columns():
        policy = spec.covariate(name)
        roles[name] = ("bool" if policy.type == "bool" else "number") if policy.known_ahead else "lagged"
        if policy.indicator:
            roles[f"{name}_missing"] = "indicator"
    roles.update({d.name: "derived" for d in spec.derived})
    roles.update({c: "calendar" for c in spec.calendar})
    roles.update({a: "attribute" for a in spec.real_attributes()})
    return roles


def model_spec(encoding: Encoding, spec: DatasetSpec | None = None) -> DatasetSpec | None:
    """The spec the model's encoding records, else ``spec`` (an encoding made before specs)."""
    return dataset_spec(encoding) or spec


def changeable_features(encoding: Encoding, spec: DatasetSpec | None = None) -> list[str]:
    """The model's features a scenario may change (every one, for an encoding without a spec)."""
    spec = model_spec(encoding, spec)
    names = [f.name for f in encoding.dynamic_feat]
    if spec is None:
        return names
    roles = feature_roles(spec)
    return [n for n in names if roles.get(n) in CHANGEABLE]


# -- the scenario --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureChange:
    """One change of a future feature: exactly one of multiply, add, set_to (on raw values, in
    the covariate's own unit; 0/1 for a flag)."""

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


def _pairs(mapping: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    return tuple((str(k), plain(v)) for k, v in items)


@dataclass(frozen=True)
class Scenario:
    """A named what-if: feature changes for the series ``select`` picks in the periods
    ``first_period`` … ``last_period`` (unset: the whole horizon), and ``new_series`` (id
    combinations with no history, each a mapping of every id column to its value, optionally
    with attribute values) to forecast by cold start. ``select`` and ``new_series`` may be given
    as mappings; they are kept as tuples of pairs."""

    name: str
    description: str = ""
    select: Any = ()  # ((column, (value, …)), …)
    first_period: str | None = None
    last_period: str | None = None
    changes: tuple[FeatureChange, ...] = ()
    new_series: Any = ()  # (((column, value), …), …)

    def __post_init__(self) -> None:
        select = self.select.items() if isinstance(self.select, Mapping) else self.select
        canonical = tuple(
            (str(column), tuple(plain(v) for v in (values if isinstance(values, (list, tuple)) else [values])))
            for column, values in select
        )
        object.__setattr__(self, "select", canonical)
        object.__setattr__(self, "new_series", tuple(_pairs(n) for n in self.new_series))
        object.__setattr__(self, "changes", tuple(self.changes))

    @property
    def selection(self) -> dict[str, list[Any]]:
        return {column: list(values) for column, values in self.select}

    @property
    def new_series_keys(self) -> list[dict[str, Any]]:
        return [dict(pairs) for pairs in self.new_series]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "select": self.selection,
            "first_period": self.first_period,
            "last_period": self.last_period,
            "changes": [{k: v for k, v in vars(c).items() if v is not None} for c in self.changes],
            "new_series": self.new_series_keys,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Scenario:
        name = raw.get("name", "?") if isinstance(raw, Mapping) else "?"
        try:
            unknown = sorted(set(raw) - set(_KEYS))
            if unknown:
                raise ValueError(f"unknown key(s) {unknown}; a scenario has {list(_KEYS)}")
            return cls(
                name=str(raw["name"]),
                description=str(raw.get("description", "")),
                select=dict(raw.get("select") or {}),
                first_period=raw.get("first_period"),
                last_period=raw.get("last_period"),
                changes=tuple(FeatureChange(**c) for c in raw.get("changes", [])),
                new_series=tuple(dict(n) for n in raw.get("new_series", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"scenario {name!r} is not a valid scenario: {exc}") from None

    # -- checks ------------------------------------------------------------------------------
    def validate(self, encoding: Encoding, spec: DatasetSpec | None = None) -> None:
        """Refuse, with the reason, a scenario the model cannot run: a bad name, no change,
        an unknown or unchangeable feature, a change that is not exactly one finite number, a
        flag set to anything but 0/1, a selection or new series naming a column or value never
        seen in training. Feature roles come from the spec the encoding records (``spec`` when
        it records none)."""
        where = f"scenario {self.name!r}"
        if not _NAME.fullmatch(self.name):
            raise ConfigurationError(
                f"{where}: a name is 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit (it names a folder)"
            )
        if not self.changes and not self.new_series:
            raise ConfigurationError(
                f"{where} changes nothing: give feature changes, new series (a value for every id column), or both"
            )
        spec = model_spec(encoding, spec)
        known = [f.name for f in encoding.dynamic_feat]
        roles = feature_roles(spec)
        changeable = changeable_features(encoding, spec)
        for change in self.changes:
            if change.feature not in known:
                raise ConfigurationError(
                    f"{where}: the model has no dynamic feature {change.feature!r}; it has {known}"
                )
            if change.feature not in changeable:
                raise ConfigurationError(
                    f"{where}: {change.feature} is a {roles.get(change.feature, 'fixed')} feature, not a known-ahead "
                    f"covariate a scenario can change; change one of {changeable}"
                )
            given = [v for v in (change.multiply, change.add, change.set_to) if v is not None]
            if len(given) != 1:
                raise ConfigurationError(
                    f"{where}, change of {change.feature}: give exactly one of multiply, add, set_to (got {len(given)})"
                )
            if not all(np.isfinite(v) for v in given):
                raise ConfigurationError(f"{where}, change of {change.feature}: {given[0]} is not a finite number")
            if roles.get(change.feature) in BINARY and change.set_to not in (0, 1):
                raise ConfigurationError(
                    f"{where}: {change.feature} is a 0/1 flag; set it with set_to: 0 or set_to: 1 (not {change.describe()})"
                )
        for column, values in self.select:
            if not values:
                raise ConfigurationError(f"{where}: select {column}: give at least one value")
            for value in values:
                match_value(encoding, column, value, where)
        ids = id_columns(encoding)
        for number, new in enumerate(self.new_series_keys, start=1):
            missing = [c for c in ids if c not in new]
            if missing:
                raise ConfigurationError(
                    f"{where}: new series {number} ({new}) lacks {missing}; a new series gives a value for every id "
                    f"column {ids}"
                )

    def periods_mask(self, dates: pd.DatetimeIndex, freq: str) -> np.ndarray:
        """Which forecast periods the changes apply to. A date that is not a period of the
        frequency, or a range outside the horizon, is refused."""
        first, last = dates[0], dates[-1]
        lo = self._period(self.first_period, "first_period", freq) if self.first_period else first
        hi = self._period(self.last_period, "last_period", freq) if self.last_period else last
        text = periods.format_period
        if lo < first or hi > last or lo > last or hi < first:
            passed = f"; {text(lo, freq)} has passed" if lo < first else ""
            raise ConfigurationError(
                f"scenario {self.name!r}: periods {text(lo, freq)}..{text(hi, freq)} reach outside the forecast horizon "
                f"{text(first, freq)}..{text(last, freq)} (the {len(dates)} periods after the last observed one){passed}"
            )
        if lo > hi:
            raise ConfigurationError(
                f"scenario {self.name!r}: first_period {text(lo, freq)} is after last_period {text(hi, freq)}"
            )
        return np.asarray((dates >= lo) & (dates <= hi))

    def _period(self, value: str, what: str, freq: str) -> pd.Timestamp:
        where = f"scenario {self.name!r}: {what}"
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None
        if not periods.on_grid([stamp], freq)[0]:
            raise ConfigurationError(
                f"{where}: {value} is not a period of the frequency {freq}; name a period by its label, e.g. "
                f"{periods.format_period(_next(stamp, freq), freq)}"
            )
        return stamp

    def selects(self, keys: pd.DataFrame) -> np.ndarray:
        """Which rows of ``keys`` the selection picks (compared as text, as :func:`match_value` does)."""
        mask = np.ones(len(keys), dtype=bool)
        for column, values in self.select:
            wanted = {str(v) for v in values}
            mask &= keys[column].map(str).isin(wanted).to_numpy()
        return mask

    def describe_selection(self) -> str:
        return "; ".join(f"{c} in {list(v)}" for c, v in self.select) or "every series"


def _next(stamp: pd.Timestamp, freq: str) -> pd.Timestamp:
    """The first period label at or after ``stamp``."""
    return pd.date_range(stamp, periods=1, freq=periods.normalize(freq))[0]


# -- applying it -------------------------------------------------------------------------------
def apply_scenario(
    records: Sequence[dict[str, Any]],
    keys: pd.DataFrame,
    h: int,
    dates: pd.DatetimeIndex,
    scenario: Scenario,
    encoding: Encoding,
    spec: DatasetSpec | None = None,
    allow_empty: bool = False,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The records with the scenario's feature changes applied to the selected series in the
    selected periods (the last ``h`` feature periods of each record). Returns the new records
    and which of them changed. A selection that matches no record is refused unless
    ``allow_empty`` (the scenario's new series may be what it is about)."""
    spec = model_spec(encoding, spec)
    scenario.validate(encoding, spec)
    if not scenario.changes:
        return list(records), np.zeros(len(records), dtype=bool)
    window = scenario.periods_mask(dates, encoding.freq)
    selected = scenario.selects(keys)
    if not selected.any():
        if allow_empty:
            return list(records), np.zeros(len(records), dtype=bool)
        raise ConfigurationError(
            f"scenario {scenario.name!r} selects no forecastable series ({scenario.describe_selection()})"
        )
    rows = {f.name: (row, f) for row, f in enumerate(encoding.dynamic_feat)}
    derived = list(spec.derived) if spec is not None else []
    out = []
    changed = np.zeros(len(records), dtype=bool)
    for i, record in enumerate(records):
        if not selected[i]:
            out.append(record)
            continue
        before = np.asarray(record[FIELD_DYNAMIC_FEAT], dtype=np.float64)
        feats = np.array(before, copy=True)
        future = slice(feats.shape[1] - h, feats.shape[1])
        for change in scenario.changes:
            row, policy = rows[change.feature]
            raw = to_raw(feats[row, future], policy)
            if change.multiply is not None:
                new = raw * change.multiply
            elif change.add is not None:
                new = raw + change.add
            else:
                new = np.full_like(raw, change.set_to)
            new = np.where(window, new, raw)
            feats[row, future] = np.where(
                window, to_scaled(new, policy), feats[row, future]
            )  # other periods: untouched bits
            for d in derived:  # the indicators built on this covariate, as the encoding would set them
                if change.feature in d.columns and d.name in rows:
                    flag, flag_policy = rows[d.name]
                    raised = window & ((new > 0) if d.any_positive is not None else (new != 0))
                    feats[flag, future] = np.where(raised, to_scaled(np.ones(h), flag_policy), feats[flag, future])
            indicator = f"{change.feature}_missing"
            if indicator in rows:
                flag, flag_policy = rows[indicator]
                feats[flag, future] = np.where(window, to_scaled(np.zeros(h), flag_policy), feats[flag, future])
        changed[i] = not np.array_equal(feats, before)
        out.append({**record, FIELD_DYNAMIC_FEAT: feats})
    return out, changed


__all__ = [
    "BINARY",
    "CHANGEABLE",
    "FeatureChange",
    "Scenario",
    "apply_scenario",
    "changeable_features",
    "feature_roles",
]
