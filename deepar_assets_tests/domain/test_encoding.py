"""Property tests of encoding the synthetic dataset (the Walmart layout, the ``synthetic`` spec)
into dense DeepAR series (``deepar_assets.domain.encoding``), on seeded generated frames built
into ``RawData`` directly. Spec-generic properties over many small random specs are in
``test_encoding_properties.py``."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from deepar_assets.domain.covariate_audit import training_end
from deepar_assets.domain.encoding import EncodedSeries, Encoding, encode
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import load_spec
from deepar_assets.domain.synthetic import CPI_NA_WEEKS, MARKDOWN_START, SyntheticSpec, generate_frames
from deepar_assets.errors import EncodingError
from deepar_assets_tests.domain.raw_samples import frames_to_raw, keeping_everything, with_covariate

SEEDS = [0, 1, 2]
# Starts in 2011 so that markdowns (from 2011-11-11, week 44) exist inside the history.
START = "2011-01-07"
# Filling and scaling as such: values after the training channel are kept as they are here
# (covariate_audit's rules have their own tests, in test_covariate_audit.py).
SPEC = keeping_everything(load_spec("synthetic"))
CAT_NAMES = ("Store", "Dept", "Type")
MARKDOWNS = tuple(f"MarkDown{k}" for k in range(1, 6))
DEFAULT_FEATURES = tuple(SPEC.default_features)


def spec_for(seed: int) -> SyntheticSpec:
    return SyntheticSpec(n_stores=4, n_depts=6, n_weeks=70, n_future_weeks=15, seed=seed, start=START)


def sales(raw: RawData) -> pd.DataFrame:
    return raw.target


def features_of(raw: RawData) -> pd.DataFrame:
    return raw.related["features"]


def stores_of(raw: RawData) -> pd.DataFrame:
    return raw.metadata["stores"]


def edit(raw: RawData, target=None, features=None, stores=None, spec=None) -> RawData:
    return RawData(
        spec=spec or raw.spec,
        target=raw.target if target is None else target,
        related={"features": features_of(raw) if features is None else features},
        metadata={"stores": stores_of(raw) if stores is None else stores},
    )


@pytest.fixture(scope="module", params=SEEDS, ids=lambda seed: f"seed{seed}")
def case(request) -> tuple[SyntheticSpec, RawData, EncodedSeries]:
    synthetic = spec_for(request.param)
    raw = frames_to_raw(generate_frames(synthetic), SPEC)
    return synthetic, raw, encode(raw)


@pytest.fixture(scope="module")
def one() -> tuple[SyntheticSpec, RawData, EncodedSeries]:
    """A single seed, for the tests that are not properties over data."""
    raw = frames_to_raw(generate_frames(spec_for(0)), SPEC)
    return spec_for(0), raw, encode(raw)


def decoded_values(encoded: EncodedSeries) -> pd.DataFrame:
    """Every observed target value, decoded back to (Store, Dept, Date, Weekly_Sales)."""
    rows = []
    for i in range(encoded.n_series):
        record = encoded.record(i, encoded.n_history)
        keys = encoded.encoding.decode(record["cat"])
        target = record["target"]
        start = int(encoded.first[i])
        for j in np.flatnonzero(~np.isnan(target)):
            rows.append((keys["Store"], keys["Dept"], encoded.periods[start + j], float(target[j])))
    frame = pd.DataFrame(rows, columns=["Store", "Dept", "Date", "Weekly_Sales"])
    return frame.sort_values(["Store", "Dept", "Date"]).reset_index(drop=True)


def feature_row(encoded: EncodedSeries, name: str) -> np.ndarray:
    names = [f.name for f in encoded.encoding.dynamic_feat]
    return encoded.features[:, names.index(name), :]


def feature_spec(encoded: EncodedSeries, name: str):
    return next(f for f in encoded.encoding.dynamic_feat if f.name == name)


def store_week_matrix(raw: RawData, encoded: EncodedSeries, column: str) -> np.ndarray:
    """The raw features column as (store code, week index), NaN where absent or NA."""
    stores = encoded.encoding.cat[0].values
    out = np.full((len(stores), len(encoded.periods)), np.nan)
    week_of = {week: k for k, week in enumerate(encoded.periods)}
    for store, date, value in features_of(raw)[["Store", "Date", column]].itertuples(index=False):
        if store in stores and date in week_of:
            out[stores.index(store), week_of[date]] = value
    return out


# --- targets --------------------------------------------------------------------------------


def test_every_sales_value_survives_at_its_week(case):
    _, raw, encoded = case
    expected = (
        sales(raw)[["Store", "Dept", "Date", "Weekly_Sales"]]
        .sort_values(["Store", "Dept", "Date"])
        .reset_index(drop=True)
    )
    got = decoded_values(encoded)
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False, check_index_type=False)


def test_values_equal_the_generated_ones(case):
    """Every value is the generator's float, bit for bit, at its week."""
    spec, _, encoded = case
    train = generate_frames(spec)["train"]
    expected = train[["Store", "Dept", "Date", "Weekly_Sales"]].assign(Date=pd.to_datetime(train["Date"]))
    got = decoded_values(encoded)
    np.testing.assert_array_equal(got["Weekly_Sales"].to_numpy(), expected["Weekly_Sales"].to_numpy())
    assert list(got["Date"]) == list(expected["Date"])


@pytest.mark.filterwarnings("ignore:.*ignoring extra column")
def test_through_the_files_and_back(tmp_path, one):
    """Written as CSV by the generator and read by the reader, the data encodes exactly as the
    frames do: every value is the generator's float, bit for bit."""
    from deepar_assets.domain.reading import read_dataset
    from deepar_assets.domain.synthetic import write_dataset

    synthetic, _, encoded = one
    read = encode(read_dataset(SPEC, write_dataset(tmp_path, synthetic)))
    np.testing.assert_array_equal(read.target, encoded.target)
    np.testing.assert_array_equal(read.features, encoded.features)
    np.testing.assert_array_equal(read.cat, encoded.cat)
    assert read.periods.equals(encoded.periods)
    assert read.encoding == encoded.encoding


def test_missing_weeks_are_nan_never_zero(case):
    _, raw, encoded = case
    # The dense matrix built independently from the rows: NaN wherever no row exists.
    week = ((sales(raw)["Date"] - encoded.periods[0]).dt.days // 7).to_numpy()
    index = {(s, d): i for i, (s, d) in enumerate(encoded.keys[["Store", "Dept"]].itertuples(index=False))}
    expected = np.full((encoded.n_series, encoded.n_history), np.nan)
    for (store, dept, value), w in zip(
        sales(raw)[["Store", "Dept", "Weekly_Sales"]].itertuples(index=False), week, strict=True
    ):
        expected[index[(store, dept)], w] = value
    np.testing.assert_array_equal(encoded.target, expected)  # NaN positions must match too
    # Non-vacuous: the synthetic data has gaps inside series, and they are NaN there.
    observed = ~np.isnan(encoded.target)
    last = encoded.n_history - 1 - observed[:, ::-1].argmax(axis=1)
    inside = np.zeros_like(observed)
    for i in range(encoded.n_series):
        inside[i, encoded.first[i] : last[i] + 1] = True
    assert (inside & ~observed).any()
    assert np.isnan(encoded.target[inside & ~observed]).all()
    assert encoded.target.shape == (encoded.n_series, encoded.n_history)


def test_zero_sales_stay_zero_and_a_dropped_week_is_nan(one):
    _, raw, _ = one
    sales = raw.target.copy()
    # In the first series, week 5 is sold out at 0.0 and week 9 has no row at all.
    first_key = sales[["Store", "Dept"]].iloc[0]
    series = sales[(sales["Store"] == first_key.Store) & (sales["Dept"] == first_key.Dept)]
    zero_row, dropped_row = series.index[5], series.index[9]
    zero_date, dropped_date = sales.loc[zero_row, "Date"], sales.loc[dropped_row, "Date"]
    sales.loc[zero_row, "Weekly_Sales"] = 0.0
    edited = edit(raw, target=sales.drop(index=dropped_row))
    encoded = encode(edited)
    i = int(
        encoded.keys.index[(encoded.keys["Store"] == first_key.Store) & (encoded.keys["Dept"] == first_key.Dept)][0]
    )
    week = {date: k for k, date in enumerate(encoded.periods)}
    assert encoded.target[i, week[zero_date]] == 0.0
    assert np.isnan(encoded.target[i, week[dropped_date]])
    assert encoded.stats["rows"] == len(sales) - 1


def test_series_are_store_dept_pairs_in_sorted_order(case):
    _, raw, encoded = case
    pairs = sales(raw)[["Store", "Dept"]].drop_duplicates().sort_values(["Store", "Dept"])
    assert list(encoded.keys[["Store", "Dept"]].itertuples(index=False, name=None)) == list(
        pairs.itertuples(index=False, name=None)
    )
    assert encoded.n_series == len(pairs) == encoded.stats["series"]
    assert encoded.stats["rows"] == len(sales(raw))
    assert encoded.stats["negative_target_rows"] == int((sales(raw)["Weekly_Sales"] < 0).sum())


# --- categories -----------------------------------------------------------------------------


def test_cat_codes_are_dense_and_match_cardinality(case):
    _, raw, encoded = case
    encoding = encoded.encoding
    assert [c.name for c in encoding.cat] == list(CAT_NAMES)
    assert encoded.cat.shape == (encoded.n_series, len(CAT_NAMES))
    assert np.issubdtype(encoded.cat.dtype, np.integer)
    for k, spec in enumerate(encoding.cat):
        assert sorted(set(encoded.cat[:, k].tolist())) == list(range(encoding.cardinality[k])), spec.name
        assert spec.values == sorted(spec.values)
        assert len(set(spec.values)) == len(spec.values)
    stores_sold = sales(raw)["Store"].unique()
    types = stores_of(raw).set_index("Store").loc[stores_sold, "Type"]
    assert encoding.cardinality == [len(stores_sold), sales(raw)["Dept"].nunique(), types.nunique()]


def test_cat_codes_decode_to_the_series_keys(case):
    _, raw, encoded = case
    encoding = encoded.encoding
    store_type = dict(zip(stores_of(raw)["Store"], stores_of(raw)["Type"], strict=True))
    for i, key in enumerate(encoded.keys.itertuples(index=False)):
        decoded = encoding.decode(encoded.cat[i].tolist())
        assert decoded == {"Store": key.Store, "Dept": key.Dept, "Type": store_type[key.Store]}
        assert [encoding.code(name, decoded[name]) for name in CAT_NAMES] == encoded.cat[i].tolist()
        assert encoded.group_row[i] == encoded.cat[i, 0]


def test_decode_refuses_unknown_codes(one):
    _, _, encoded = one
    encoding = encoded.encoding
    n_store, n_dept, n_type = encoding.cardinality
    for codes in ([n_store, 0, 0], [0, n_dept, 0], [0, 0, n_type], [-1, 0, 0], [0, 1.0, 0], [0, "1", 0]):
        with pytest.raises(EncodingError, match="unknown; expected an integer in 0..") as info:
            encoding.decode(codes)
        bad = [
            c
            for c, limit in zip(codes, encoding.cardinality, strict=True)
            if not (isinstance(c, int) and 0 <= c < limit)
        ][0]
        assert repr(bad) in str(info.value)


@pytest.mark.parametrize("codes", [[0, 0], [0, 0, 0, 0], []])
def test_decode_refuses_a_wrong_length_code_list(one, codes):
    _, _, encoded = one
    with pytest.raises(EncodingError, match=f"has {len(codes)} codes; the encoding has 3"):
        encoded.encoding.decode(codes)


def test_decode_accepts_numpy_integers(one):
    _, _, encoded = one
    assert encoded.encoding.decode(encoded.cat[0]) == encoded.encoding.decode(encoded.cat[0].tolist())


@pytest.mark.parametrize(("name", "value"), [("Store", 999), ("Dept", 0), ("Type", "D"), ("Store", "1")])
def test_code_refuses_an_unseen_value(one, name, value):
    _, _, encoded = one
    with pytest.raises(EncodingError, match="was not seen when the encoding was made") as info:
        encoded.encoding.code(name, value)
    assert f"{name}={value!r}" in str(info.value)


def test_code_refuses_an_unknown_category(one):
    _, _, encoded = one
    with pytest.raises(EncodingError, match="no category 'Region'"):
        encoded.encoding.code("Region", 1)


# --- encoding.json --------------------------------------------------------------------------


def test_encoding_json_round_trip(case):
    _, _, encoded = case
    encoding = encoded.encoding
    data = encoding.to_json()
    assert isinstance(data, bytes)
    again = Encoding.from_json(data)
    assert again == encoding
    assert Encoding.from_json(data.decode()) == encoding
    assert again.to_json() == data  # stable bytes
    assert again.cardinality == encoding.cardinality
    for codes in encoded.cat[:5]:
        assert again.decode(codes.tolist()) == encoding.decode(codes.tolist())
    parsed = json.loads(data)
    assert [f["name"] for f in parsed["dynamic_feat"]] == list(DEFAULT_FEATURES)


@pytest.mark.parametrize("data", ["{}", "[]", '{"cat": [{"name": "Store"}], "dynamic_feat": [], "freq": "W-FRI"}'])
def test_from_json_refuses_an_invalid_encoding(data):
    with pytest.raises(EncodingError, match="not a valid encoding"):
        Encoding.from_json(data)


def test_from_json_refuses_truncated_json(one):
    _, _, encoded = one
    data = encoded.encoding.to_json()
    with pytest.raises(EncodingError, match="not a valid encoding"):
        Encoding.from_json(data[: len(data) // 2])


# --- records --------------------------------------------------------------------------------


def test_record_start_is_the_first_observed_week(case):
    _, raw, encoded = case
    first_dates = sales(raw).groupby(["Store", "Dept"])["Date"].min()
    for i, key in enumerate(encoded.keys.itertuples(index=False)):
        record = encoded.record(i, encoded.n_history)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} 00:00:00", record["start"])
        assert record["start"] == first_dates[(key.Store, key.Dept)].strftime("%Y-%m-%d 00:00:00")
        assert encoded.periods[encoded.first[i]] == first_dates[(key.Store, key.Dept)]
        assert not np.isnan(record["target"][0])
        assert np.isnan(encoded.target[i, : encoded.first[i]]).all()


def test_periods_axis(case):
    spec, raw, encoded = case
    weeks = encoded.periods
    assert (weeks.dayofweek == 4).all()
    assert (np.diff(weeks.asi8) == 7 * 24 * 3600 * 10**9).all()
    assert weeks[0] == sales(raw)["Date"].min() == pd.Timestamp(spec.start)
    assert encoded.last_period == sales(raw)["Date"].max()
    assert weeks[-1] == features_of(raw)["Date"].max()
    assert encoded.n_history == spec.n_weeks
    assert encoded.future_periods == spec.n_future_weeks


def test_dynamic_features_have_no_nan_and_match_the_target(case):
    _, _, encoded = case
    n_feat = len(DEFAULT_FEATURES)
    assert encoded.features.shape == (encoded.encoding.cardinality[0], n_feat, len(encoded.periods))
    assert np.isfinite(encoded.features).all()
    for i in range(encoded.n_series):
        first = int(encoded.first[i])
        for end in sorted({first + 1, encoded.n_history - 10, encoded.n_history}):
            if end <= first:
                continue
            record = encoded.record(i, end)
            assert len(record["target"]) == end - first
            assert record["dynamic_feat"].shape == (n_feat, end - first)
            np.testing.assert_array_equal(record["target"], encoded.target[i, first:end])
            np.testing.assert_array_equal(record["dynamic_feat"], encoded.features[encoded.group_row[i], :, first:end])


@pytest.mark.parametrize("future", [1, 7, 15])
def test_records_reach_future_weeks_when_asked(one, future):
    _, _, encoded = one
    end = encoded.n_history
    for i in range(encoded.n_series):
        record = encoded.record(i, end, future=future)
        length = end - int(encoded.first[i])
        assert len(record["target"]) == length
        assert record["dynamic_feat"].shape[1] == length + future
        assert np.isfinite(record["dynamic_feat"]).all()
    # An earlier end leaves more weeks of features to ask for.
    record = encoded.record(0, end - 5, future=future + 5)
    assert record["dynamic_feat"].shape[1] == len(record["target"]) + future + 5


def test_records_refuse_more_future_than_exists(one):
    _, _, encoded = one
    with pytest.raises(EncodingError, match=f"only {encoded.future_periods} feature periods exist"):
        encoded.record(0, encoded.n_history, future=encoded.future_periods + 1)


def test_records_iterates_the_given_indices(one):
    _, _, encoded = one
    indices = np.array([2, 0, 3])
    records = list(encoded.records(indices, encoded.n_history))
    assert [r["cat"] for r in records] == [encoded.cat[i].tolist() for i in indices]
    assert all(isinstance(c, int) for r in records for c in r["cat"])


# --- features -------------------------------------------------------------------------------


def test_unknown_feature_names_are_refused(one):
    _, raw, _ = one
    with pytest.raises(EncodingError, match="unknown dynamic feature") as info:
        encode(raw, features=("Temperature", "Humidity"))
    assert "'Humidity'" in str(info.value) and "'Temperature'" not in str(info.value).split(";")[0]


def test_a_feature_subset_keeps_order_and_values(case):
    _, raw, encoded = case
    subset = ("CPI", "IsHoliday", "MarkDown3")
    small = encode(raw, features=subset)
    assert [f.name for f in small.encoding.dynamic_feat] == list(subset)
    assert small.features.shape[1] == len(subset)
    for name in subset:
        np.testing.assert_array_equal(feature_row(small, name), feature_row(encoded, name))
    np.testing.assert_array_equal(small.target, encoded.target)


def test_no_features(one):
    _, raw, encoded = one
    bare = encode(raw, features=())
    # No feature keyed by anything: one feature group for every series.
    assert bare.features.shape == (1, 0, len(encoded.periods))
    assert (bare.group_row == 0).all()
    assert bare.encoding.dynamic_feat == []
    assert bare.record(0, bare.n_history)["dynamic_feat"].shape == (0, bare.n_history - bare.first[0])


def test_feature_specs_follow_the_policies(case):
    _, _, encoded = case
    for spec in encoded.encoding.dynamic_feat:
        if spec.name == "AnyMarkDown":  # derived: a 0/1 flag
            assert (spec.fill, spec.scale) == ("zero", "none")
        else:
            policy = SPEC.covariate(spec.name)
            assert (spec.fill, spec.scale) == (policy.fill, policy.scale)
        assert spec.std > 0
        if spec.scale == "none":
            assert (spec.mean, spec.std) == (0.0, 1.0)


def test_scaled_features_are_standardized_on_the_training_channel(case):
    """The statistics come from the periods up to T - 2h only: nothing after them (the test and
    validation windows) shapes the scaling."""
    _, _, encoded = case
    history = training_end(encoded.n_history, encoded.spec.prediction_length)
    assert history < encoded.n_history
    for spec in encoded.encoding.dynamic_feat:
        if spec.scale == "none":
            continue
        values = feature_row(encoded, spec.name)[:, :history]
        assert abs(values.mean()) < 1e-3, spec.name
        assert values.std() == pytest.approx(1.0, abs=1e-3) or values.std() == 0.0, spec.name


@pytest.mark.parametrize("name", ["Temperature", "Fuel_Price", "CPI", "Unemployment"])
def test_standard_features_scale_back_to_the_raw_values(case, name):
    _, raw, encoded = case
    spec = feature_spec(encoded, name)
    original = store_week_matrix(raw, encoded, name)
    known = ~np.isnan(original)
    back = feature_row(encoded, name) * spec.std + spec.mean
    tolerance = 1e-4 * spec.std + 1e-6 * abs(spec.mean) + 1e-9
    np.testing.assert_allclose(back[known], original[known], rtol=0, atol=tolerance)


def test_markdowns_are_zero_before_they_exist(case):
    _, raw, encoded = case
    before = encoded.periods < pd.Timestamp(MARKDOWN_START)
    assert before.any() and (~before).any()
    for name in MARKDOWNS:
        spec = feature_spec(encoded, name)
        values = feature_row(encoded, name)
        assert not np.isnan(values).any()
        # sign(x)·log1p(|x|) inverted after standardizing back: 0 before 2011-11-11.
        logged = values * spec.std + spec.mean
        back = np.sign(logged) * np.expm1(np.abs(logged))
        np.testing.assert_allclose(back[:, before], 0.0, atol=1e-3)
        # Reported markdowns scale back to their values.
        original = store_week_matrix(raw, encoded, name)
        known = ~np.isnan(original)
        assert known[:, ~before].any() and not known[:, before].any()
        np.testing.assert_allclose(back[known], original[known], rtol=1e-3)
        # Missing after the start means "no markdown", i.e. 0 as well.
        missing_after = ~known & ~before[None, :]
        np.testing.assert_allclose(back[missing_after], 0.0, atol=1e-3)


def test_any_markdown_flag(case):
    _, raw, encoded = case
    before = encoded.periods < pd.Timestamp(MARKDOWN_START)
    flag = feature_row(encoded, "AnyMarkDown")
    assert set(np.unique(flag).tolist()) <= {0.0, 1.0}
    assert (flag[:, before] == 0).all()
    assert (flag[:, ~before] == 1).any()
    reported = np.stack([~np.isnan(store_week_matrix(raw, encoded, m)) for m in MARKDOWNS]).any(axis=0)
    np.testing.assert_array_equal(flag, reported.astype(float))


def test_holiday_flag(case):
    _, raw, encoded = case
    flag = feature_row(encoded, "IsHoliday")
    np.testing.assert_array_equal(flag, store_week_matrix(raw, encoded, "IsHoliday"))
    assert set(np.unique(flag).tolist()) == {0.0, 1.0}
    # A calendar fact: the same for every store.
    assert (flag == flag[0]).all()


@pytest.mark.parametrize("name", ["CPI", "Unemployment"])
def test_trailing_na_weeks_are_carried_forward(case, name):
    _, raw, encoded = case
    assert features_of(raw).groupby("Store")[name].apply(lambda s: s.tail(CPI_NA_WEEKS).isna().all()).all()
    values = feature_row(encoded, name)
    last_known = values[:, -CPI_NA_WEEKS - 1]
    np.testing.assert_array_equal(values[:, -CPI_NA_WEEKS:], np.repeat(last_known[:, None], CPI_NA_WEEKS, axis=1))
    # ...and the last known week is a real value, not itself a fill.
    assert not np.isnan(store_week_matrix(raw, encoded, name)[:, -CPI_NA_WEEKS - 1]).any()


def test_a_store_week_without_features_is_filled(one):
    _, raw, encoded = one
    features = features_of(raw)
    store = encoded.encoding.cat[0].values[1]
    week = encoded.n_history + 3  # a future week: the sales need no features row there
    date = encoded.periods[week]
    dropped = features[~((features["Store"] == store) & (features["Date"] == date))]
    assert len(dropped) == len(features) - 1
    edited = encode(edit(raw, features=dropped))
    assert np.isfinite(edited.features).all()
    row = encoded.encoding.cat[0].values.index(store)
    # Temperature is carried forward from the week before; the holiday flag takes the spec's
    # fill: zero (no row, no holiday).
    temperature = feature_row(edited, "Temperature")
    assert temperature[row, week] == temperature[row, week - 1]
    holiday = feature_row(edited, "IsHoliday")
    assert SPEC.covariate("IsHoliday").fill == "zero"
    assert holiday[row, week] == 0.0
    others = [r for r in range(holiday.shape[0]) if r != row]
    np.testing.assert_array_equal(holiday[others], feature_row(encoded, "IsHoliday")[others])
    assert feature_row(edited, "AnyMarkDown")[row, week] == 0.0


def test_fill_policy_none_refuses_missing_values(one):
    _, raw, _ = one
    strict = edit(raw, spec=with_covariate(SPEC, "CPI", fill="none"))
    n_na = int(features_of(raw)["CPI"].isna().sum())
    assert n_na > 0
    with pytest.raises(EncodingError, match=f"covariate CPI: {n_na} missing value") as info:
        encode(strict, features=("CPI",))
    assert "its fill policy is 'none'" in str(info.value) and "Store=" in str(info.value)
    # The other covariates are not concerned.
    encode(strict, features=("Temperature",))


def test_a_store_without_any_value_cannot_be_carried_forward(one):
    _, raw, _ = one
    features = features_of(raw).copy()
    features.loc[features["Store"] == features["Store"].iloc[0], "Fuel_Price"] = np.nan
    store = features["Store"].iloc[0]
    with pytest.raises(EncodingError, match=f"covariate Fuel_Price: Store={store} has no value in any period"):
        encode(edit(raw, features=features))


def test_encode_does_not_modify_its_input(one):
    _, raw, _ = one
    before = (sales(raw).copy(), features_of(raw).copy(), stores_of(raw).copy())
    encode(raw)
    pd.testing.assert_frame_equal(sales(raw), before[0])
    pd.testing.assert_frame_equal(features_of(raw), before[1])
    pd.testing.assert_frame_equal(stores_of(raw), before[2])


def test_encoding_is_deterministic(one):
    synthetic, _, encoded = one
    again = encode(frames_to_raw(generate_frames(synthetic), SPEC))
    assert again.encoding == encoded.encoding
    np.testing.assert_array_equal(again.target, encoded.target)
    np.testing.assert_array_equal(again.features, encoded.features)
    np.testing.assert_array_equal(again.cat, encoded.cat)
