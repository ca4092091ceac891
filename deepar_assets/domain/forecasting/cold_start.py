"""Cold start: forecasting an id combination with no history from its categories and features.

DeepAR learns one embedding per category value seen in training, so a new combination of
known values (a known item in a known store that never sold it) can be forecast: its record
has the model's codes for its ids and categorical attributes, the known-ahead features of its
feature group, and a target of missing values. A value never seen in training has no
embedding, and is refused with a message.

GluonTS's DeepAR scales a series with no observed value by the mean level of its batch, so the
new series is forecast beside *peers*, series like it, whose level it then takes. Peers are
chosen from its declared attributes, by the first of these rules that finds any:

1. the same values of the ids that no categorical attribute describes, and the same attribute
   values (ids store and item, an attribute category keyed by item: the same store, items of
   the same category);
2. the same values of those ids alone (the same store, any item);
3. the same attribute values alone (items of the same category in any store);
4. any series sharing one of its id values (with no attributes declared, the only rule: the
   same store or the same item).

At most ``max_peers`` are kept: the largest over the last season.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import FIELD_CAT, FIELD_START, FIELD_TARGET
from deepar_assets.domain.encoding import EncodedSeries, Encoding
from deepar_assets.domain.forecasting.changes import recent_volume
from deepar_assets.domain.forecasting.inputs import ForecastInputs, forecast_dates, with_features
from deepar_assets.domain.forecasting.keys import describe_key, find_value, key_columns, known_values, plain
from deepar_assets.domain.spec import DatasetSpec
from deepar_assets.errors import ConfigurationError, EncodingError


@dataclass
class ColdStart:
    """A new id combination: its ids and attributes, its record, and the peers forecast beside it."""

    key: dict[str, Any]  # ids, then categorical attributes (the model's cat names)
    record: dict[str, Any]
    peers: np.ndarray  # positions in ForecastInputs.records
    peer_rule: str


def attribute_keys(spec: DatasetSpec, attribute: str) -> list[str]:
    """The id columns a categorical attribute is keyed by (its metadata table's keys)."""
    table, _ = spec.attribute(attribute)
    return list(table.keys)


def feature_keys(spec: DatasetSpec, features: list[str]) -> list[str]:
    """The id columns the given dynamic features vary by: the keys of their covariates (a
    derived feature: of its columns; an indicator: of its covariate; a real attribute: of its
    metadata table); calendar features vary by none. In the spec's id order."""
    covariates = spec.covariate_columns()
    keys: set[str] = set()
    for name in features:
        if name in covariates:
            keys |= set(spec.covariate_keys(name))
        elif name.endswith("_missing") and name[: -len("_missing")] in covariates:
            keys |= set(spec.covariate_keys(name[: -len("_missing")]))
        elif name in {d.name for d in spec.derived}:
            derived = next(d for d in spec.derived if d.name == name)
            for column in derived.columns:
                keys |= set(spec.covariate_keys(column))
        elif name in spec.real_attributes():
            keys |= set(attribute_keys(spec, name))
    return [c for c in spec.ids if c in keys]


def _matching(keys: pd.DataFrame, values: Mapping[str, Any], columns: list[str]) -> np.ndarray:
    mask = np.ones(len(keys), dtype=bool)
    for column in columns:
        mask &= (keys[column].map(str) == str(values[column])).to_numpy()
    return mask


def _resolve(
    encoded: EncodedSeries, model_encoding: Encoding, given: Mapping[str, Any], what: str, model: str
) -> dict[str, Any]:
    """Every model cat column's value for the new series: ids as given; attributes as given, or
    else taken from a series that shares the attribute's metadata keys. Values the model never
    saw are refused."""
    spec = encoded.spec
    names = key_columns(model_encoding)
    unknown = [c for c in given if c not in names]
    if unknown:
        raise ConfigurationError(f"{what}: {unknown} are not id columns or categorical attributes; choose from {names}")
    missing = [c for c in spec.ids if c not in given]
    if missing:
        raise ConfigurationError(f"{what}: give a value for every id column {spec.ids} (missing {missing})")
    key: dict[str, Any] = {}
    for column in names:
        if column in spec.ids:
            value = plain(given[column])
        else:
            keyed_by = attribute_keys(spec, column) if column in spec.categorical_attributes() else spec.ids
            sharing = _matching(encoded.keys, {**given, **key}, keyed_by)
            looked_up = sorted({plain(v) for v in encoded.keys.loc[sharing, column]}, key=str)
            if column in given:
                value = plain(given[column])
                if column in model_encoding.bins and isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = model_encoding.bin_label(column, value)  # a binned attribute given as its number
                if looked_up and str(value) not in {str(v) for v in looked_up}:
                    raise ConfigurationError(
                        f"{what}: {column}={value!r} contradicts the data, where series with the same "
                        f"{', '.join(keyed_by)} have {column} {looked_up}"
                    )
            elif len(looked_up) == 1:
                value = looked_up[0]
            else:
                raise ConfigurationError(
                    f"{what}: no series shares its {', '.join(keyed_by)} to take its {column} from; give {column} "
                    "in the new series"
                )
        found, canonical = find_value(model_encoding, column, value)
        if not found:
            raise EncodingError(
                f"{what} refused: {column}={value!r} was not seen when the encoding was made; known values: "
                f"{known_values(model_encoding, column)}. DeepAR learns one embedding per category value seen in "
                f"training, so {model} cannot forecast a series with {column}={value!r}; retrain on data that contains it"
            )
        key[column] = canonical
    return key


def _feature_row(encoded: EncodedSeries, key: Mapping[str, Any], inputs: ForecastInputs, what: str) -> int:
    """The row of ``inputs.features`` the new series takes: the feature group whose key values
    (``encoded.group_keys``; else the columns its features are keyed by) are the new series'."""
    if not encoded.encoding.dynamic_feat:
        return 0
    groups_keys = encoded.group_keys
    if groups_keys is not None:
        columns = list(groups_keys.columns)
        groups = np.flatnonzero(_matching(groups_keys, key, columns))
    else:
        columns = feature_keys(encoded.spec, [f.name for f in encoded.encoding.dynamic_feat])
        groups = np.unique(encoded.group_row[_matching(encoded.keys, key, columns)])
    if not len(groups):
        raise ConfigurationError(
            f"{what}: its features are keyed by {columns}, and no series has its {describe_key(key, columns)}, so its "
            "features are unknown"
        )
    first = inputs.features[int(groups[0])]
    if any(not np.array_equal(inputs.features[int(g)], first) for g in groups[1:]):
        raise ConfigurationError(
            f"{what}: the series with its {describe_key(key, columns)} have different features, so its own are unknown"
        )
    return int(groups[0])


def _peers(keys: pd.DataFrame, key: Mapping[str, Any], columns: list[str], ids: list[str]) -> np.ndarray:
    """Positions in ``keys`` matching ``key`` on every one of ``columns``; with no columns, on
    any one of ``ids``."""
    if columns:
        return np.flatnonzero(_matching(keys, key, columns))
    shares = np.zeros(len(keys), dtype=bool)
    for column in ids:
        shares |= _matching(keys, key, [column])
    return np.flatnonzero(shares)


def peer_rules(spec: DatasetSpec, key: Mapping[str, Any], attributes: list[str]) -> list[tuple[str, list[str]]]:
    """(description, columns) of each peer rule, most specific first (see the module's doc).
    An empty column list means "shares any id value"."""
    described = {c for a in attributes for c in attribute_keys(spec, a)}
    free = [c for c in spec.ids if c not in described]
    rules: list[tuple[str, list[str]]] = []
    if attributes and free:
        rules.append((describe_key(key, [*free, *attributes]), [*free, *attributes]))
        rules.append((f"{describe_key(key, free)}, any {', '.join(attributes)}", free))
    if attributes:
        rules.append((describe_key(key, attributes), attributes))
    rules.append((" or ".join(f"{c} {plain(key[c])}" for c in spec.ids), []))
    return rules


def cold_start(
    encoded: EncodedSeries,
    inputs: ForecastInputs,
    model_encoding: Encoding,
    new: Mapping[str, Any],
    h: int,
    max_peers: int,
    model: str = "the model",
) -> ColdStart:
    """The record of a new id combination (``new``: a value for every id column, optionally
    attribute values) and its peers among ``inputs.records``. Refused: a combination that has
    history (the forecasts asset forecasts it), a value never seen in training (no
    embedding), features that cannot be known (no series shares the columns they are keyed
    by), no peer at all."""
    spec = encoded.spec
    what = f"cold start of {describe_key(new, [c for c in spec.ids if c in new]) or dict(new)}"
    key = _resolve(encoded, model_encoding, new, what, model)
    existing = _matching(encoded.keys, key, spec.ids)
    if existing.any():
        i = int(np.flatnonzero(existing)[0])
        observed = int(np.count_nonzero(~np.isnan(encoded.target[i])))
        raise ConfigurationError(
            f"{what}: the combination has {observed} observed period(s) of history, so it is forecast by the forecasts "
            "asset; cold start is for combinations with none"
        )
    dates = forecast_dates(encoded, h)  # refuses known-ahead features that do not reach T + h
    row = _feature_row(encoded, key, inputs, what)
    end = encoded.n_history
    record = with_features(
        {
            FIELD_START: encoded.start_strings[0],
            FIELD_TARGET: np.full(end, np.nan),
            FIELD_CAT: [model_encoding.code(c.name, key[c.name]) for c in model_encoding.cat],
        },
        inputs.features[row, :, : end + len(dates)],
    )
    attributes = [c for c in key if c not in spec.ids]
    found = [(rule, _peers(inputs.keys, key, columns, spec.ids)) for rule, columns in peer_rules(spec, key, attributes)]
    found = [(rule, peers) for rule, peers in found if len(peers)]
    if not found:
        raise ConfigurationError(
            f"{what}: no forecastable series shares any of its values, so there is no peer to scale it by"
        )
    rule, peers = found[0]
    if len(peers) > max_peers:
        volume = recent_volume(encoded, inputs.series[peers])
        peers = peers[np.argsort(-volume, kind="stable")[:max_peers]]
    return ColdStart(key, record, np.sort(peers), rule)
