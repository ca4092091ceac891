"""deepar_assets.domain.forecasting on small generated data in Walmart's layout (the synthetic
spec): which series a model can forecast, records in the model's encoding, forecast tables,
changes vs one season earlier, scenarios, cold start. The same on other layouts: test_any_spec.py."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepar_assets.constants import FIELD_CAT, FIELD_DYNAMIC_FEAT, FIELD_TARGET
from deepar_assets.domain.encoding import FeatureSpec, encode
from deepar_assets.domain.forecasting import (
    VALUE_COLUMNS,
    FeatureChange,
    Scenario,
    apply_scenario,
    changes_vs_last_season,
    cold_start,
    forecast_frame,
    forecast_inputs,
    model_features,
    representative_series,
    time_column,
    to_raw,
    to_scaled,
)
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec import load_spec
from deepar_assets.domain.synthetic import SyntheticSpec, write_dataset
from deepar_assets.errors import ConfigurationError, EncodingError

# Starts in 2011 so that markdowns (from 2011-11-11) exist in the forecast weeks.
SPEC = SyntheticSpec(
    n_stores=3, n_depts=5, n_weeks=60, n_future_weeks=6, seed=4, start="2011-01-07"
)  # seed 4: 13 of the 15 pairs exist
H = 4


pytestmark = pytest.mark.filterwarnings("ignore:.*ignoring extra column")


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> RawData:
    return read_dataset(load_spec("synthetic"), write_dataset(tmp_path_factory.mktemp("forecasting_domain"), SPEC))


@pytest.fixture(scope="module")
def encoded(raw):
    return encode(raw)


def _without_store(raw: RawData, store: int) -> RawData:
    """The data as it was before ``store`` opened: what an older model was trained on."""
    return RawData(
        spec=raw.spec,
        target=raw.target[raw.target["Store"] != store],
        related={name: frame[frame["Store"] != store] for name, frame in raw.related.items()},
        metadata={name: frame[frame["Store"] != store] for name, frame in raw.metadata.items()},
        source=raw.source,
    )


@pytest.mark.parametrize("scale", ["none", "standard", "log1p_standard"])
def test_scaling_round_trips(scale):
    spec = FeatureSpec("x", "zero", scale, mean=1.3, std=2.5)
    raw = np.array([-250.0, -1.0, 0.0, 0.5, 3.0, 12_000.0])
    np.testing.assert_allclose(to_raw(to_scaled(raw, spec), spec), raw, rtol=1e-12, atol=1e-9)


def test_records_are_every_series_up_to_t_with_h_future_feature_periods(encoded):
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    assert len(inputs.records) == encoded.n_series and inputs.skipped.empty
    assert inputs.origin == encoded.last_period
    assert list(inputs.dates) == list(encoded.periods[encoded.n_history : encoded.n_history + H])
    assert list(inputs.keys.columns) == ["Store", "Dept", "Type"]
    for i, record in zip(inputs.series, inputs.records, strict=True):
        expected = encoded.record(int(i), end=encoded.n_history, future=H)
        np.testing.assert_array_equal(record[FIELD_TARGET], expected[FIELD_TARGET])
        assert record[FIELD_CAT] == expected[FIELD_CAT]
        np.testing.assert_array_equal(record[FIELD_DYNAMIC_FEAT], expected[FIELD_DYNAMIC_FEAT])
        assert record[FIELD_DYNAMIC_FEAT].shape[1] == len(record[FIELD_TARGET]) + H


def test_features_that_do_not_reach_h_periods_are_refused_naming_the_periods(encoded):
    with pytest.raises(EncodingError) as error:
        forecast_inputs(encoded, encoded.encoding, SPEC.n_future_weeks + 1)
    message = str(error.value)
    reached = encoded.last_period + pd.Timedelta(weeks=SPEC.n_future_weeks)
    assert f"reach {SPEC.n_future_weeks} period(s) past T (to {reached:%Y-%m-%d})" in message
    assert f"T = {encoded.last_period:%Y-%m-%d}" in message and "MarkDown1" in message


def test_an_older_model_gets_its_own_codes_and_scaling_and_skips_what_it_never_saw(raw, encoded):
    newest = int(raw.metadata["stores"]["Store"].max())
    older = encode(_without_store(raw, newest)).encoding
    inputs = forecast_inputs(encoded, older, H)
    skipped = inputs.skipped
    assert set(skipped["Store"]) == {newest} and len(skipped) == int((encoded.keys["Store"] == newest).sum())
    assert skipped["reason"].str.contains(f"Store={newest} not seen in training: DeepAR has no embedding").all()
    assert list(skipped.columns) == ["Store", "Dept", "Type", "reason"]
    temperature = [f.name for f in older.dynamic_feat].index("Temperature")
    current_spec = encoded.encoding.dynamic_feat[temperature]
    assert older.dynamic_feat[temperature].mean != current_spec.mean, "the stores differ, so the scaling does"
    for i, record in zip(inputs.series, inputs.records, strict=True):
        keys = encoded.keys.iloc[i]
        assert older.decode(record[FIELD_CAT]) == {"Store": keys["Store"], "Dept": keys["Dept"], "Type": keys["Type"]}
        mine = encoded.record(int(i), end=encoded.n_history, future=H)[FIELD_DYNAMIC_FEAT][temperature]
        np.testing.assert_allclose(
            to_raw(record[FIELD_DYNAMIC_FEAT][temperature], older.dynamic_feat[temperature]),
            to_raw(mine, current_spec),
            rtol=1e-9,
            atol=1e-9,
        )


def test_a_model_feature_missing_from_the_data_is_refused(raw, encoded):
    fewer = encode(raw, ["IsHoliday", "Temperature"])
    with pytest.raises(
        EncodingError, match="trained with the dynamic feature 'Fuel_Price', which encoded_series no longer has"
    ):
        model_features(fewer, encoded.encoding)


def test_forecast_frame_is_long_and_decoded(encoded):
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    n = len(inputs.records)
    arrays = {name: np.full((n, H), float(k)) for k, name in enumerate(VALUE_COLUMNS)}
    frame = forecast_frame(inputs.keys, inputs.dates, arrays, time_column(encoded.encoding))
    assert list(frame.columns) == ["Store", "Dept", "Type", "Date", "horizon", *VALUE_COLUMNS]
    assert len(frame) == n * H
    assert frame.groupby(["Store", "Dept"]).size().eq(H).all()
    assert (frame["p90"] == VALUE_COLUMNS.index("p90")).all()
    with pytest.raises(EncodingError, match=rf"forecast 'p50' has shape \(2, 4\); expected \({n}, 4\)"):
        forecast_frame(inputs.keys, inputs.dates, {**arrays, "p50": np.zeros((2, H))})


def test_changes_vs_last_season_compare_the_same_periods_a_season_earlier(encoded):
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    n = len(inputs.records)
    season = encoded.spec.season_length  # the synthetic spec's: 52 weeks
    mean = np.tile(np.arange(1.0, H + 1.0), (n, 1)) * 1000
    changes = changes_vs_last_season(encoded, inputs.series, inputs.keys, mean)
    assert list(changes.columns[:3]) == ["Store", "Dept", "Type"]
    assert (changes["change"].abs().diff().dropna() <= 0).all(), "largest first"
    for row in changes.itertuples():
        i = int(np.flatnonzero((encoded.keys["Store"] == row.Store) & (encoded.keys["Dept"] == row.Dept))[0])
        last_season = encoded.target[i, encoded.n_history - season : encoded.n_history - season + H]
        observed = ~np.isnan(last_season)
        assert row.periods_compared == observed.sum() > 0
        assert row.last_season == pytest.approx(np.nansum(last_season))
        assert row.forecast == pytest.approx(1000 * np.arange(1, H + 1)[observed].sum())
        assert row.change == pytest.approx(row.forecast - row.last_season)
    representative = representative_series(encoded, inputs.series, 3, changes)
    assert len(set(representative)) == 3


def test_a_scenario_changes_raw_values_of_its_selection_in_its_weeks_only(encoded):
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    names = [f.name for f in encoded.encoding.dynamic_feat]
    md1, flag = names.index("MarkDown1"), names.index("AnyMarkDown")
    spec = encoded.encoding.dynamic_feat[md1]
    weeks = inputs.dates[1:3]
    scenario = Scenario(
        "md1-up",
        select={"Type": ["A"]},
        first_period=f"{weeks[0]:%Y-%m-%d}",
        last_period=f"{weeks[-1]:%Y-%m-%d}",
        changes=(FeatureChange("MarkDown1", multiply=1.5), FeatureChange("MarkDown1", add=100.0)),
    )
    records, changed = apply_scenario(inputs.records, inputs.keys, H, inputs.dates, scenario, encoded.encoding)
    is_a = (inputs.keys["Type"] == "A").to_numpy()
    assert is_a.any() and (changed == is_a).all()
    for before, after, a in zip(inputs.records, records, is_a, strict=True):
        old, new = np.asarray(before[FIELD_DYNAMIC_FEAT]), after[FIELD_DYNAMIC_FEAT]
        if not a:
            assert after is before
            continue
        n = old.shape[1]
        np.testing.assert_allclose(
            to_raw(new[md1, n - 3 : n - 1], spec), to_raw(old[md1, n - 3 : n - 1], spec) * 1.5 + 100, rtol=1e-9
        )
        unchanged = np.r_[0 : n - 3, n - 1]
        np.testing.assert_array_equal(new[:, unchanged], old[:, unchanged])
        assert (new[flag, n - 3 : n - 1] == 1).all()
        others = [k for k in range(len(names)) if k not in (md1, flag)]
        np.testing.assert_array_equal(new[others], old[others])


def test_a_holiday_flag_is_switched_with_set_to(encoded):
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    flag = [f.name for f in encoded.encoding.dynamic_feat].index("IsHoliday")
    week = f"{inputs.dates[0]:%Y-%m-%d}"
    on = Scenario("holiday-on", first_period=week, last_period=week, changes=(FeatureChange("IsHoliday", set_to=1),))
    records, changed = apply_scenario(inputs.records, inputs.keys, H, inputs.dates, on, encoded.encoding)
    for record in records:
        assert record[FIELD_DYNAMIC_FEAT][flag, -H] == 1.0
    before = np.asarray([r[FIELD_DYNAMIC_FEAT][flag, -H] for r in inputs.records])
    np.testing.assert_array_equal(changed, before == 0)  # a series changes where the week was not a holiday


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (Scenario("x", changes=(FeatureChange("Sunshine", multiply=2),)), "has no dynamic feature 'Sunshine'"),
        (
            Scenario("x", changes=(FeatureChange("CPI", multiply=2, add=1),)),
            "exactly one of multiply, add, set_to (got 2)",
        ),
        (Scenario("x", changes=(FeatureChange("IsHoliday", multiply=2),)), "IsHoliday is a 0/1 flag"),
        (Scenario("x", changes=(FeatureChange("CPI", multiply=float("nan")),)), "is not a finite number"),
        (Scenario("x y", changes=(FeatureChange("CPI", add=1),)), "a name is 1-64 letters"),
        (Scenario("x\n", changes=(FeatureChange("CPI", add=1),)), "a name is 1-64 letters"),  # not a line end
        (
            Scenario("x", first_period="2010-03-05", changes=(FeatureChange("CPI", add=1),)),
            "the last observed one); 2010-03-05 has passed",
        ),
        (Scenario("x"), "changes nothing"),
        (Scenario("x", changes=(FeatureChange("AnyMarkDown", add=1),)), "AnyMarkDown is a 0/1 flag"),
        (Scenario("x", select={"Type": ["Z"]}, changes=(FeatureChange("CPI", add=1),)), "Type='Z' was not seen"),
        (Scenario("x", select={"Dept": [1000]}, changes=(FeatureChange("CPI", add=1),)), "Dept=1000 was not seen"),
        (
            Scenario("x", select={"Region": ["N"]}, changes=(FeatureChange("CPI", add=1),)),
            "'Region' is not an id column",
        ),
        (
            Scenario("x", first_period="2030-01-04", changes=(FeatureChange("CPI", add=1),)),
            "reach outside the forecast horizon",
        ),
        (
            Scenario("x", first_period="2012-03-05", changes=(FeatureChange("CPI", add=1),)),
            "not a period of the frequency W-FRI",
        ),
        (Scenario("x", first_period="soon", changes=(FeatureChange("CPI", add=1),)), "'soon' is not a date"),
        (Scenario("x", new_series=[{"Store": 1}]), "lacks ['Dept']; a new series gives a value for every id column"),
    ],
)
def test_bad_scenarios_are_refused_with_the_reason(encoded, scenario, message):
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    with pytest.raises(ConfigurationError) as error:
        apply_scenario(inputs.records, inputs.keys, H, inputs.dates, scenario, encoded.encoding)
    assert message in str(error.value) and "scenario 'x" in str(error.value)


def test_a_selection_of_nothing_is_refused(raw, encoded):
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    store = int(encoded.keys["Store"].iloc[0])
    depts = set(encoded.keys.loc[encoded.keys["Store"] == store, "Dept"])
    other = next(int(d) for d in encoded.encoding.cat[1].values if d not in depts)
    scenario = Scenario("none", select={"Store": [store], "Dept": [other]}, changes=(FeatureChange("CPI", add=1),))
    with pytest.raises(ConfigurationError, match=f"selects no forecastable series \\(Store in \\[{store}\\]; Dept in"):
        apply_scenario(inputs.records, inputs.keys, H, inputs.dates, scenario, encoded.encoding)


def test_scenarios_round_trip_through_their_stored_form():
    scenario = Scenario(
        "a",
        "why",
        select={"Store": [1, 2], "Type": ["A"], "Dept": [3]},
        first_period="2012-01-06",
        last_period="2012-01-13",
        changes=(FeatureChange("MarkDown1", multiply=1.5), FeatureChange("IsHoliday", set_to=0)),
        new_series=[{"Store": 1, "Dept": 99}],
    )
    stored = json.loads(json.dumps(scenario.to_dict()))
    assert stored["select"] == {"Store": [1, 2], "Type": ["A"], "Dept": [3]}
    assert Scenario.from_dict(stored) == scenario
    with pytest.raises(ConfigurationError, match="scenario 'b' is not a valid scenario"):
        Scenario.from_dict({"name": "b", "changes": [{"feature": "CPI", "times": 2}]})
    with pytest.raises(ConfigurationError, match=r"unknown key\(s\) \['stores'\]"):
        Scenario.from_dict({"name": "c", "stores": [1], "changes": [{"feature": "CPI", "add": 2}]})


def _absent_pair(encoded) -> tuple[int, int]:
    present = set(zip(encoded.keys["Store"], encoded.keys["Dept"], strict=True))
    for store in encoded.encoding.cat[0].values:
        for dept in encoded.encoding.cat[1].values:
            if (store, dept) not in present:
                return store, dept
    raise AssertionError("every pair exists")


def test_cold_start_builds_a_record_without_history_and_picks_peers(encoded):
    """Type describes the Store (the stores table is keyed by Store), so the peers share the
    new pair's Dept in stores of its Type; the record has its store's features."""
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    store, dept = _absent_pair(encoded)
    new = cold_start(encoded, inputs, encoded.encoding, {"Store": store, "Dept": dept}, H, max_peers=127)
    store_type = encoded.keys.loc[encoded.keys["Store"] == store, "Type"].iloc[0]
    assert new.key == {"Store": store, "Dept": dept, "Type": store_type}
    assert encoded.encoding.decode(new.record[FIELD_CAT]) == new.key
    assert np.isnan(new.record[FIELD_TARGET]).all() and len(new.record[FIELD_TARGET]) == encoded.n_history
    assert new.record[FIELD_DYNAMIC_FEAT].shape[1] == encoded.n_history + H
    in_store = int(np.flatnonzero((inputs.keys["Store"] == store).to_numpy())[0])
    np.testing.assert_array_equal(
        new.record[FIELD_DYNAMIC_FEAT][:, -H:], inputs.records[in_store][FIELD_DYNAMIC_FEAT][:, -H:]
    )
    peers = inputs.keys.iloc[new.peers]
    assert len(peers) and (peers["Dept"] == dept).all()
    if new.peer_rule == f"Dept {dept}, Type {store_type}":
        assert (peers["Type"] == store_type).all()
    else:
        assert new.peer_rule == f"Dept {dept}, any Type"
        assert not ((inputs.keys["Dept"] == dept) & (inputs.keys["Type"] == store_type)).any()
    fewer = cold_start(encoded, inputs, encoded.encoding, {"Store": store, "Dept": dept}, H, max_peers=1)
    assert len(fewer.peers) == 1


def test_cold_start_refuses_values_never_seen_and_pairs_with_history(encoded):
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    store, dept = _absent_pair(encoded)
    with pytest.raises(EncodingError) as error:
        cold_start(encoded, inputs, encoded.encoding, {"Store": store, "Dept": 1000}, H, max_peers=10, model="model m1")
    message = str(error.value)
    assert message.startswith(f"cold start of Store {store}, Dept 1000 refused: Dept=1000 was not seen")
    assert "DeepAR learns one embedding per category value seen in training, so model m1 cannot forecast" in message
    with pytest.raises(EncodingError, match="Store=77 was not seen"):
        cold_start(encoded, inputs, encoded.encoding, {"Store": 77, "Dept": dept}, H, max_peers=10)
    s, d = (int(encoded.keys["Store"].iloc[0]), int(encoded.keys["Dept"].iloc[0]))
    with pytest.raises(
        ConfigurationError, match=r"observed period\(s\) of history, so it is forecast by the forecasts asset"
    ):
        cold_start(encoded, inputs, encoded.encoding, {"Store": s, "Dept": d}, H, max_peers=10)
    other = next(
        t
        for t in encoded.encoding.cat[2].values
        if t != encoded.keys.loc[encoded.keys["Store"] == store, "Type"].iloc[0]
    )
    with pytest.raises(ConfigurationError, match=f"Type={other!r} contradicts the data"):
        cold_start(encoded, inputs, encoded.encoding, {"Store": store, "Dept": dept, "Type": other}, H, max_peers=10)


def test_changes_table_leaves_out_series_without_last_season(encoded):
    inputs = forecast_inputs(encoded, encoded.encoding, H)
    late = np.flatnonzero(encoded.first[inputs.series] > encoded.n_history - encoded.spec.season_length + H)
    changes = changes_vs_last_season(encoded, inputs.series, inputs.keys, np.ones((len(inputs.series), H)))
    keys = set(zip(changes["Store"], changes["Dept"], strict=True))
    for position in late:
        key = inputs.keys.iloc[position]
        assert (key["Store"], key["Dept"]) not in keys
    assert isinstance(changes, pd.DataFrame)
