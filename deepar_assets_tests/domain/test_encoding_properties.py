"""Properties of ``encode`` for any spec: many small random specs and frames (daily, weekly,
monthly; int and string ids; with and without related and metadata tables; missing periods),
plus the edge cases a declared spec allows (huge values, lagged covariates, indicators, reach)."""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from deepar_assets.domain.encoding import EncodedSeries, Encoding, calendar_feature, encode, require_known_ahead
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import DatasetSpec
from deepar_assets.domain.spec import periods as P
from deepar_assets.errors import EncodingError

FREQUENCIES = ["D", "W-SUN", "W-FRI", "MS", "ME", "h"]
CALENDAR = {
    "D": ["day_of_week", "day_of_month", "week_of_year", "month_of_year"],
    "W-SUN": ["week_of_year", "month_of_year"],
    "W-FRI": ["week_of_year"],
    "MS": ["month_of_year"],
    "ME": ["month_of_year"],
    "h": ["hour_of_day", "day_of_week"],
}
FIRST = {
    "D": "2020-01-01",
    "W-SUN": "2019-12-29",
    "W-FRI": "2020-01-03",
    "MS": "2015-01-01",
    "ME": "2015-01-31",
    "h": "2021-03-01 00:00",
}


@dataclass
class Case:
    seed: int
    spec: DatasetSpec
    raw: RawData
    encoded: EncodedSeries


def _strict_json(data: bytes) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(data, parse_constant=refuse)


def _id_values(rng: np.random.Generator, kind: str, n: int) -> list[Any]:
    if kind == "int":
        return sorted(rng.choice(np.arange(-5, 200), size=n, replace=False).tolist(), key=lambda _: rng.random())
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(list(string.ascii_letters + "_ -"), size=int(rng.integers(1, 6)))))
    return list(words)


def random_case(seed: int) -> Case:
    """A random spec and raw tables that satisfy it."""
    rng = np.random.default_rng(seed)
    freq = FREQUENCIES[seed % len(FREQUENCIES)]
    n_ids = int(rng.integers(1, 4))
    ids = [f"id{k}" for k in range(n_ids)]
    kinds = {name: str(rng.choice(["int", "string"])) for name in ids}
    values = {name: _id_values(rng, kinds[name], int(rng.integers(2, 5))) for name in ids}
    combos = pd.MultiIndex.from_product([values[name] for name in ids]).to_frame(index=False, name=ids)
    combos = combos.sample(n=max(1, int(len(combos) * rng.uniform(0.4, 1.0))), random_state=seed)
    h = int(rng.integers(2, 6))
    n_history = int(rng.integers(3 * h + 4, 3 * h + 30))
    axis = P.period_index(pd.Timestamp(FIRST[freq]), P.shift(pd.Timestamp(FIRST[freq]), n_history - 1, freq), freq)

    rows = []
    for combo in combos.itertuples(index=False):
        start = int(rng.integers(0, n_history // 2))
        stop = n_history if rng.random() < 0.8 else int(rng.integers(start + 1, n_history + 1))
        keep = rng.random(stop - start) > 0.15
        keep[0] = True
        for p in np.flatnonzero(keep) + start:
            rows.append((*combo, axis[p]))
    target = pd.DataFrame(rows, columns=[*ids, "ts"])
    # The first and last periods exist (they define the axis).
    target.loc[0, "ts"] = axis[0]
    target.loc[len(target) - 1, "ts"] = axis[-1]
    target = target.drop_duplicates([*ids, "ts"]).reset_index(drop=True)
    target["y"] = np.round(rng.normal(50, 30, len(target)), 3)
    target.loc[rng.random(len(target)) < 0.05, "y"] = np.nan  # an NA target stays missing
    target.loc[rng.random(len(target)) < 0.05, "y"] = 0.0
    target = target.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # any row order
    for name in ids:
        target[name] = target[name].astype(np.int64 if kinds[name] == "int" else object)

    spec: dict[str, Any] = {
        "name": f"random{seed}",
        "frequency": freq,
        "start": f"{axis[0]:%Y-%m-%d}",
        "target": {
            "name": "facts",
            "file": "facts.csv",
            "ids": ids,
            "id_types": kinds,
            "time": {"column": "ts", "format": "%Y-%m-%d"},
            "target": "y",
        },
        "covariates": {},
        "evaluation": {"prediction_length": h, "season_length": 2},
    }
    related: dict[str, pd.DataFrame] = {}
    metadata: dict[str, pd.DataFrame] = {}

    if rng.random() < 0.4:  # a covariate in the target table itself
        target["own"] = np.where(rng.random(len(target)) < 0.2, np.nan, rng.normal(0, 5, len(target)))
        spec["target"]["covariates"] = ["own"]
        spec["covariates"]["own"] = {
            "fill": "zero",
            "indicator": True,
            "scale": "robust",
            "known_ahead": False,
            "lag_by_horizon": True,
        }
    if rng.random() < 0.6:  # a related table keyed by a subset of the ids (maybe none: global)
        keys = [name for name in ids if rng.random() < 0.5]
        extra = int(rng.integers(0, h + 8))
        window = P.period_index(P.shift(axis[0], -2, freq), P.shift(axis[-1], extra, freq), freq)
        key_rows = combos[keys].drop_duplicates() if keys else pd.DataFrame(index=[0])
        frame = key_rows.merge(pd.DataFrame({"when": window}), how="cross")
        frame = frame[rng.random(len(frame)) > 0.1].reset_index(drop=True)
        frame["price"] = rng.lognormal(2, 1, len(frame))
        frame.loc[rng.random(len(frame)) < 0.1, "price"] = np.nan
        frame["promo"] = (rng.random(len(frame)) < 0.2).astype(np.float64)
        related["plan"] = frame
        spec["related"] = [
            {
                "name": "plan",
                "file": "plan.csv",
                "keys": keys,
                "time": {"column": "when", "format": "%Y-%m-%d"},
                "covariates": ["price", "promo"],
            }
        ]
        spec["covariates"]["price"] = {"fill": "ffill", "scale": str(rng.choice(["standard", "log1p_standard"]))}
        spec["covariates"]["promo"] = {"type": "bool", "fill": "zero", "scale": "none"}
        spec["derived"] = [{"name": "promoted", "any_positive": ["promo"]}]
        spec["evaluation"]["weights"] = {"column": "promo", "weight": 3}
    if rng.random() < 0.6:  # a metadata table keyed by the first id
        key = ids[0]
        known = sorted(set(combos[key]), key=str)
        frame = pd.DataFrame({key: known})
        frame["group"] = rng.choice(["north", "South", "east"], len(frame)).astype(object)
        frame["size"] = rng.integers(1, 100, len(frame)).astype(np.float64)
        frame[key] = frame[key].astype(np.int64 if kinds[key] == "int" else object)
        metadata["info"] = frame
        spec["metadata"] = [
            {
                "name": "info",
                "file": "info.csv",
                "keys": [key],
                "attributes": {
                    "group": {"kind": "categorical"},
                    "size": {"kind": str(rng.choice(["binned", "real"])), "bins": 3},
                },
            }
        ]
    spec["calendar"] = [c for c in CALENDAR[freq] if rng.random() < 0.6]
    parsed = DatasetSpec.model_validate(spec)
    raw = RawData(spec=parsed, target=target, related=related, metadata=metadata)
    return Case(seed, parsed, raw, encode(raw))


SEEDS = list(range(36))


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def case(request) -> Case:
    return random_case(request.param)


def series_index(encoded: EncodedSeries) -> dict[tuple, int]:
    ids = encoded.encoding.ids
    return {tuple(row): i for i, row in enumerate(encoded.keys[ids].itertuples(index=False, name=None))}


def test_every_target_value_survives_at_its_period(case):
    encoded, table, spec = case.encoded, case.raw.target, case.spec
    index = series_index(encoded)
    rows = np.array([index[tuple(k)] for k in table[spec.ids].itertuples(index=False, name=None)])
    cols = encoded.periods.get_indexer(pd.DatetimeIndex(table["ts"]))
    assert (cols >= 0).all() and (cols < encoded.n_history).all()
    np.testing.assert_array_equal(encoded.target[rows, cols], table["y"].to_numpy())  # NaN where NaN
    # Every other (series, period) is missing.
    present = np.zeros(encoded.target.shape, dtype=bool)
    present[rows, cols] = True
    assert np.isnan(encoded.target[~present]).all()
    assert encoded.stats["rows"] == len(table)
    assert encoded.n_series == len(table[spec.ids].drop_duplicates()) == len(index)


def test_series_are_in_the_ids_natural_order(case):
    keys = list(case.encoded.keys[case.spec.ids].itertuples(index=False, name=None))
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_cat_decodes_to_the_ids_and_attributes(case):
    encoded, spec = case.encoded, case.spec
    encoding = encoded.encoding
    assert encoding.cat_names == spec.cat_names == list(encoded.keys.columns)
    assert encoding.ids == spec.ids
    for k, cat in enumerate(encoding.cat):
        assert cat.values == sorted(cat.values), cat.name
        assert sorted(set(encoded.cat[:, k].tolist())) == list(range(len(cat.values)))
    for i, row in enumerate(encoded.keys.itertuples(index=False, name=None)):
        decoded = encoding.decode(encoded.cat[i])
        assert tuple(decoded.values()) == row
        for name, value in decoded.items():
            kind = spec.target.id_types.get(name)
            if kind == "int":
                assert type(value) is int
            elif name in spec.ids:
                assert type(value) is str
            assert encoding.code(name, value) == encoded.cat[i, encoding.cat_names.index(name)]
    if "info" in case.raw.metadata:
        info = case.raw.metadata["info"].set_index(spec.ids[0])
        for _, row in encoded.keys.iterrows():
            assert row["group"] == info.loc[row[spec.ids[0]], "group"]
            if "size" in encoding.bins:
                assert row["size"] == encoding.bin_label("size", info.loc[row[spec.ids[0]], "size"])


def test_the_period_axis(case):
    encoded, spec = case.encoded, case.spec
    times = case.raw.target["ts"]
    assert encoded.periods[0] == times.min()
    assert encoded.last_period == times.max()
    assert P.on_grid(encoded.periods, spec.frequency).all()
    assert encoded.periods.equals(P.period_index(encoded.periods[0], encoded.periods[-1], spec.frequency))
    assert encoded.future_periods >= spec.prediction_length
    if "plan" in case.raw.related:
        assert encoded.periods[-1] == max(
            case.raw.related["plan"]["when"].max(), encoded.periods[encoded.n_history - 1 + spec.prediction_length]
        )
    else:
        assert encoded.future_periods == spec.prediction_length


def test_features_are_finite_and_as_long_as_the_axis(case):
    encoded, spec = case.encoded, case.spec
    names = encoded.feature_names
    assert names == spec.default_features
    assert encoded.features.shape == (int(encoded.group_row.max()) + 1, len(names), len(encoded.periods))
    assert np.isfinite(encoded.features).all()
    for i in range(encoded.n_series):
        for end in (encoded.n_history - spec.prediction_length, encoded.n_history):
            if end <= encoded.first[i]:
                continue
            record = encoded.record(i, end, future=spec.prediction_length)
            length = end - int(encoded.first[i])
            assert len(record["target"]) == length
            assert record["dynamic_feat"].shape == (len(names), length + spec.prediction_length)
    for spec_ in encoded.encoding.dynamic_feat:
        assert np.isfinite([spec_.mean, spec_.std]).all() and spec_.std > 0


def test_feature_groups_follow_the_covariate_keys(case):
    """Series that share a covariate's key values share its feature row; calendar features are
    the same for every group."""
    encoded, spec = case.encoded, case.spec
    for k, name in enumerate(encoded.feature_names):
        rows = encoded.features[encoded.group_row, k, :]
        if name in spec.calendar:
            np.testing.assert_array_equal(
                rows, np.broadcast_to(np.round(calendar_feature(name, encoded.periods), 4), rows.shape)
            )
            continue
        if name in ("price", "promo", "promoted"):
            keys = spec.related[0].keys
        elif name in ("own", "own_missing"):
            keys = spec.ids
        else:  # a real attribute
            keys = spec.metadata[0].keys
        for _, members in (
            encoded.keys.groupby(keys, sort=False).groups.items() if keys else [(None, encoded.keys.index)]
        ):
            block = rows[np.asarray(members)]
            assert (block == block[0]).all(), name


def test_weights_are_the_flagged_periods(case):
    encoding = case.encoded.encoding
    if "plan" not in case.raw.related:
        assert encoding.weights == {}
        assert (case.encoded.weights(case.encoded.periods) == 1).all()
        return
    plan = case.raw.related["plan"]
    flagged = sorted(set(plan.loc[plan["promo"] == 1, "when"]))
    assert encoding.weights == {P.format_period(d, case.spec.frequency): 3.0 for d in flagged}
    got = case.encoded.weights(case.encoded.periods)
    assert set(np.unique(got).tolist()) <= {1.0, 3.0}
    assert list(case.encoded.periods[got == 3.0]) == [d for d in flagged if d in case.encoded.periods]


def test_encoding_json_is_valid_and_round_trips(case):
    encoding = case.encoded.encoding
    data = encoding.to_json()
    parsed = _strict_json(data)
    assert parsed["spec"] == case.spec.model_dump(mode="json")
    assert parsed["dataset"] == case.spec.name and parsed["freq"] == case.spec.frequency
    assert parsed["season_length"] == case.spec.season_length
    again = Encoding.from_json(data)
    assert again == encoding and again.to_json() == data
    assert DatasetSpec.model_validate(parsed["spec"]) == case.spec


def test_the_known_ahead_check(case):
    encoded, h = case.encoded, case.spec.prediction_length
    reach = {name: encoded.reach[name] for name in encoded.feature_names}
    short = [name for name, r in reach.items() if r < h]
    if short:
        with pytest.raises(EncodingError, match="needs every dynamic feature known") as info:
            require_known_ahead(encoded, h)
        assert all(name in str(info.value) for name in short)
    else:
        require_known_ahead(encoded, h)
    if encoded.feature_names:
        with pytest.raises(EncodingError):
            require_known_ahead(encoded, max(reach.values()) + 1)


def test_encoding_is_deterministic_and_leaves_its_input_alone(case):
    before = case.raw.target.copy()
    again = encode(case.raw)
    pd.testing.assert_frame_equal(case.raw.target, before)
    np.testing.assert_array_equal(again.target, case.encoded.target)
    np.testing.assert_array_equal(again.features, case.encoded.features)
    assert again.encoding == case.encoded.encoding


def test_the_random_cases_cover_the_shapes():
    """Non-vacuous: the seeds cover every frequency, int and string ids, related tables keyed by
    nothing and by some ids, metadata, lagged covariates and short reaches."""
    cases = [random_case(seed) for seed in SEEDS]
    assert {c.spec.frequency for c in cases} == {P.normalize(f) for f in FREQUENCIES}
    kinds = {k for c in cases for k in c.spec.target.id_types.values()}
    assert kinds == {"int", "string"}
    assert any(c.spec.related and not c.spec.related[0].keys for c in cases)
    assert any(c.spec.related and c.spec.related[0].keys for c in cases)
    assert any(not c.spec.related for c in cases)
    assert any(c.spec.metadata for c in cases) and any(not c.spec.metadata for c in cases)
    assert any("own" in c.spec.target.covariates for c in cases)
    assert any(min(c.encoded.reach.values(), default=99) < c.spec.prediction_length for c in cases)
    assert any(c.encoded.stats["missing_periods_inside_series"] > 0 for c in cases)


# --- edge cases of a declared spec --------------------------------------------------------------


def small_spec(**changes: Any) -> DatasetSpec:
    spec = {
        "name": "small",
        "frequency": "D",
        "start": "2024-01-01",
        "target": {
            "name": "sales",
            "file": "sales.csv",
            "ids": ["shop", "sku"],
            "id_types": {"shop": "string", "sku": "int"},
            "time": {"column": "day"},
            "target": "units",
        },
        "evaluation": {"prediction_length": 3},
    }
    spec.update(changes)
    return DatasetSpec.model_validate(spec)


def small_target(n_days: int = 20) -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=n_days, freq="D")
    rows = [
        (shop, sku, day, float(k))
        for k, (shop, sku, day) in enumerate((s, i, d) for s in ("b", "a") for i in (10, 2) for d in days)
    ]
    frame = pd.DataFrame(rows, columns=["shop", "sku", "day", "units"])
    frame["shop"] = frame["shop"].astype(object)
    return frame


def prices(n_days: int, keys: list[str], extra: int = 5) -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=n_days + extra, freq="D")
    base = pd.DataFrame({"shop": ["a", "b"]}) if keys == ["shop"] else pd.DataFrame(index=[0])
    frame = base.merge(pd.DataFrame({"day": days}), how="cross")
    frame["price"] = np.arange(len(frame), dtype=np.float64) % 7 + 1.0
    return frame


def test_string_ids_are_sorted_and_decoded():
    encoded = encode(RawData(spec=small_spec(), target=small_target()))
    assert list(encoded.keys.itertuples(index=False, name=None)) == [("a", 2), ("a", 10), ("b", 2), ("b", 10)]
    assert encoded.encoding.cat[0].values == ["a", "b"] and encoded.encoding.cat[1].values == [2, 10]
    assert encoded.encoding.decode([1, 0]) == {"shop": "b", "sku": 2}
    assert encoded.keys["sku"].dtype == np.int64


def test_without_covariates_calendar_features_reach_the_horizon():
    spec = small_spec(calendar=["day_of_week", "day_of_month"])
    encoded = encode(RawData(spec=spec, target=small_target(20)))
    assert encoded.n_history == 20 and encoded.future_periods == 3
    assert encoded.features.shape == (1, 2, 23)
    require_known_ahead(encoded, 3)
    dow = encoded.feature("day_of_week")[0]
    np.testing.assert_allclose(dow, encoded.periods.dayofweek / 6 - 0.5, atol=1e-4)
    assert dow.min() >= -0.5 and dow.max() <= 0.5


def test_a_huge_value_keeps_the_scaling_finite():
    spec = small_spec(
        related=[{"name": "p", "file": "p.csv", "keys": ["shop"], "time": {"column": "day"}, "covariates": ["price"]}],
        covariates={"price": {"scale": "standard"}},
    )
    frame = prices(20, ["shop"])
    frame.loc[3, "price"] = 1e308
    encoded = encode(RawData(spec=spec, target=small_target(), related={"p": frame}))
    assert np.isfinite(encoded.features).all()
    feature = encoded.encoding.feature("price")
    assert np.isfinite([feature.mean, feature.std]).all() and feature.std > 0
    data = encoded.encoding.to_json()
    assert Encoding.from_json(data) == encoded.encoding
    assert np.isfinite(_strict_json(data)["dynamic_feat"][0]["std"])
    # The same with a robust scale, and with two huge values of opposite signs.
    frame.loc[4, "price"] = -1e308
    for scale in ("standard", "robust", "log1p_standard"):
        spec2 = small_spec(
            **{
                **{k: v for k, v in spec.model_dump(mode="json").items() if k in ("related",)},
                "covariates": {"price": {"scale": scale}},
            }
        )
        again = encode(RawData(spec=spec2, target=small_target(), related={"p": frame}))
        assert np.isfinite(again.features).all(), scale
        _strict_json(again.encoding.to_json())


def test_a_constant_feature_gets_std_one():
    spec = small_spec(
        related=[{"name": "p", "file": "p.csv", "keys": [], "time": {"column": "day"}, "covariates": ["price"]}],
        covariates={"price": {"scale": "standard"}},
    )
    frame = prices(20, []).assign(price=4.5)
    encoded = encode(RawData(spec=spec, target=small_target(), related={"p": frame}))
    assert encoded.encoding.feature("price").std == 1.0 and encoded.encoding.feature("price").mean == 4.5
    assert (encoded.feature("price") == 0).all()
    assert encoded.features.shape[0] == 1  # a global covariate: one group


def test_lag_by_horizon_shifts_by_the_prediction_length():
    spec = small_spec(
        target={**small_spec().target.model_dump(mode="json"), "covariates": ["visits"]},
        covariates={
            "visits": {
                "known_ahead": False,
                "lag_by_horizon": True,
                "fill": "zero",
                "scale": "none",
                "outside_training": "keep",  # rising visits: the test is about the shift
            }
        },
    )
    target = small_target(20)
    target["visits"] = np.arange(len(target), dtype=np.float64) + 1
    encoded = encode(RawData(spec=spec, target=target))
    h = 3
    assert encoded.reach["visits"] == h
    require_known_ahead(encoded, h)
    with pytest.raises(EncodingError, match="visits reaches 3 period"):
        require_known_ahead(encoded, h + 1)
    index = series_index(encoded)
    visits = encoded.features[:, 0, :]
    assert visits.shape[0] == encoded.n_series  # keyed by all ids: one group per series
    for row in target.itertuples(index=False):
        i, p = index[(row.shop, row.sku)], encoded.periods.get_loc(row.day)
        if p + h < len(encoded.periods):
            assert visits[encoded.group_row[i], p + h] == row.visits
    # The first h periods come before any value: filled by the policy (zero).
    assert (visits[:, :h] == 0).all()


def test_an_unlagged_covariate_of_the_target_table_does_not_reach_ahead():
    spec = small_spec(
        target={**small_spec().target.model_dump(mode="json"), "covariates": ["visits"]},
        covariates={"visits": {"fill": "ffill", "scale": "standard"}},
    )
    target = small_target(20).assign(visits=1.0)
    encoded = encode(RawData(spec=spec, target=target))
    assert encoded.reach["visits"] == 0
    with pytest.raises(EncodingError) as info:
        require_known_ahead(encoded, 3)
    message = str(info.value)
    assert "visits reaches 0 period(s) past T (to 2024-01-20)" in message
    assert "T = 2024-01-20" in message and "lag_by_horizon" in message


def test_a_related_table_that_stops_short_is_named_with_its_reach():
    spec = small_spec(
        related=[{"name": "p", "file": "p.csv", "keys": ["shop"], "time": {"column": "day"}, "covariates": ["price"]}],
        calendar=["day_of_week"],
    )
    encoded = encode(RawData(spec=spec, target=small_target(20), related={"p": prices(20, ["shop"], extra=1)}))
    assert encoded.reach == {"price": 1, "day_of_week": 3}
    assert encoded.future_periods == 3  # the axis still reaches the horizon ...
    assert np.isfinite(encoded.features).all()
    np.testing.assert_array_equal(encoded.feature("price")[:, -1], encoded.feature("price")[:, -3])  # ... repeated
    with pytest.raises(EncodingError, match=r"price reaches 1 period\(s\) past T \(to 2024-01-21\)"):
        require_known_ahead(encoded, 3)
    require_known_ahead(
        encode(
            RawData(spec=spec, target=small_target(20), related={"p": prices(20, ["shop"], extra=1)}),
            features=["day_of_week"],
        ),
        3,
    )


def test_an_indicator_marks_the_missing_values():
    spec = small_spec(
        related=[{"name": "p", "file": "p.csv", "keys": ["shop"], "time": {"column": "day"}, "covariates": ["price"]}],
        covariates={"price": {"fill": "value", "fill_value": -1.0, "indicator": True, "scale": "none"}},
    )
    frame = prices(20, ["shop"])
    frame.loc[[2, 5], "price"] = np.nan  # NA values
    frame = frame.drop(index=[7])  # and a period without a row
    encoded = encode(RawData(spec=spec, target=small_target(), related={"p": frame}))
    assert encoded.feature_names == ["price", "price_missing"]
    price, missing = encoded.feature("price"), encoded.feature("price_missing")
    shops = encoded.group_keys["shop"].tolist()
    expected = np.zeros_like(missing)
    for k in (2, 5, 7):
        row = prices(20, ["shop"]).loc[k]
        expected[shops.index(row["shop"]), encoded.periods.get_loc(row["day"])] = 1.0
    np.testing.assert_array_equal(missing, expected)
    assert (price[missing == 1] == -1.0).all() and (price[missing == 0] > 0).all()


def test_fill_none_refuses_an_na_value_naming_it():
    spec = small_spec(
        related=[{"name": "p", "file": "p.csv", "keys": ["shop"], "time": {"column": "day"}, "covariates": ["price"]}],
        covariates={"price": {"fill": "none"}},
    )
    frame = prices(20, ["shop"])
    frame.loc[4, "price"] = np.nan
    with pytest.raises(
        EncodingError, match=r"covariate price: 1 missing value\(s\) \(NA\), e.g. shop='a' at 2024-01-05"
    ):
        encode(RawData(spec=spec, target=small_target(), related={"p": frame}))


def test_metadata_attributes_binned_and_real():
    metadata = [
        {
            "name": "shops",
            "file": "shops.csv",
            "keys": ["shop"],
            "attributes": {
                "region": {"kind": "categorical"},
                "area": {"kind": "binned", "bins": 2},
                "staff": {"kind": "real"},
            },
        }
    ]
    spec = small_spec(metadata=metadata)
    shops = pd.DataFrame(
        {
            "shop": ["a", "b", "zz"],
            "region": ["west", "east", "west"],
            "area": [10.0, 500.0, 90.0],
            "staff": [3.0, 9.0, 1.0],
        }
    )
    encoded = encode(RawData(spec=spec, target=small_target(), metadata={"shops": shops}))
    assert encoded.encoding.cat_names == ["shop", "sku", "region", "area"]
    assert encoded.keys["region"].tolist() == ["west", "west", "east", "east"]
    assert encoded.keys["area"].tolist() == ["q1", "q1", "q2", "q2"]
    assert encoded.encoding.bins["area"] == [90.0] and encoded.encoding.bin_label("area", 100) == "q2"
    assert encoded.feature_names == ["staff"]
    staff = encoded.feature("staff")
    assert staff.shape == (2, 23) and (staff[:, :1] == staff).all()
    assert staff[0, 0] < 0 < staff[1, 0]
    with pytest.raises(EncodingError, match="metadata table shops: no row for 2 series, e.g. shop='b'"):
        encode(RawData(spec=spec, target=small_target(), metadata={"shops": shops.iloc[[0]]}))


def test_unknown_features_are_refused():
    with pytest.raises(EncodingError, match=r"unknown dynamic feature\(s\) \['holiday'\]"):
        encode(RawData(spec=small_spec(), target=small_target()), features=["holiday"])


def test_a_missing_real_attribute_takes_the_mean_and_is_counted():
    metadata = [{"name": "shops", "file": "shops.csv", "keys": ["shop"], "attributes": {"staff": {"kind": "real"}}}]
    shops = pd.DataFrame({"shop": ["a", "b"], "staff": [np.nan, 9.0]})
    encoded = encode(RawData(spec=small_spec(metadata=metadata), target=small_target(), metadata={"shops": shops}))
    assert encoded.stats["staff_missing_series"] == 2  # the two series of shop a
    assert (encoded.feature("staff") == 0).all()  # b is the mean, a takes it
