"""Forecast tables, what-if scenarios and cold start on specs that are not Walmart's: a daily
shop × item dataset with string ids, a categorical item attribute and known-ahead price and
promo covariates; and aus_retail's monthly layout, with no covariates and no attributes.

Scenarios run through ``run_scenario`` with a small stand-in model whose forecast is readable:
each series' recent level (the batch's mean level for a series with no observed value, as
GluonTS's DeepAR scales it), lowered by the scaled price of the horizon."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from deepar_assets.constants import FIELD_CAT, FIELD_DYNAMIC_FEAT, FIELD_TARGET, QUANTILES
from deepar_assets.domain import forecasting as fc
from deepar_assets.domain.encoding import encode
from deepar_assets.domain.spec import parse_spec
from deepar_assets.errors import ConfigurationError, EncodingError
from deepar_assets_tests.forecasting.shops import (
    ABSENT,
    ITEMS,
    MONTHLY_ABSENT,
    SHOP_SPEC,
    monthly_raw,
    shop_raw,
)

H = 7


@pytest.fixture(scope="module")
def shops():
    return encode(shop_raw())


@pytest.fixture(scope="module")
def monthly():
    return encode(monthly_raw())


class ReadableModel:
    """A stand-in for a DeepAR forecaster (the ``Predictor`` protocol)."""

    engine_name = "readable"
    batch_size = 16

    def __init__(self, h: int):
        self.h = h

    def predict(self, records: list[dict[str, Any]], cut: int = 0) -> dict[str, np.ndarray]:
        levels = []
        for record in records:
            target = np.asarray(record[FIELD_TARGET], dtype=float)
            observed = target[~np.isnan(target)][-7:]
            levels.append(observed.mean() if len(observed) else np.nan)
        levels = np.asarray(levels)
        levels = np.where(np.isnan(levels), np.nanmean(levels), levels)  # no history: the batch's level
        mean = np.repeat(levels[:, None], self.h, axis=1)
        for i, record in enumerate(records):
            if FIELD_DYNAMIC_FEAT in record:
                mean[i] -= 5.0 * np.asarray(record[FIELD_DYNAMIC_FEAT])[0, -self.h :]  # the scaled price
        return {"mean": mean, **{f"p{round(q * 100)}": mean + (q - 0.5) * 10 for q in QUANTILES}}


# -- forecast tables -----------------------------------------------------------------------------
def test_forecast_tables_name_the_specs_ids_attributes_and_time_column(shops):
    inputs = fc.forecast_inputs(shops, shops.encoding, H)
    assert len(inputs.records) == len(shops.keys) == 3 * len(ITEMS) - 1
    assert list(inputs.dates) == list(pd.date_range("2021-06-29", periods=H, freq="D"))
    arrays = ReadableModel(H).predict(inputs.records)
    frame = fc.forecast_frame(inputs.keys, inputs.dates, arrays, fc.time_column(shops.encoding))
    assert list(frame.columns) == ["shop", "item", "family", "day", "horizon", "mean", *fc.QUANTILE_COLUMNS]
    assert set(frame["shop"]) == {"east", "north", "south"} and set(frame["item"]) == set(ITEMS)
    assert (frame["family"] == frame["item"].map(ITEMS)).all()
    csv = pd.read_csv(io.BytesIO(fc.to_csv_bytes(frame, shops.encoding.freq)))
    assert csv["day"].iloc[:H].tolist() == [f"{d:%Y-%m-%d}" for d in inputs.dates]


def test_changes_are_against_one_season_of_days_earlier(shops):
    inputs = fc.forecast_inputs(shops, shops.encoding, H)
    mean = np.ones((len(inputs.records), H))
    changes = fc.changes_vs_last_season(shops, inputs.series, inputs.keys, mean)
    row = changes.iloc[0]
    i = int(np.flatnonzero((shops.keys["shop"] == row["shop"]) & (shops.keys["item"] == row["item"]))[0])
    # Season 7: the forecast's 7 days against the last 7 observed days.
    assert row["last_season"] == pytest.approx(shops.target[i, -7:].sum()) and row["periods_compared"] == 7


def test_a_dataset_without_covariates_forecasts_without_dynamic_feat(monthly):
    inputs = fc.forecast_inputs(monthly, monthly.encoding, 12)
    assert all(FIELD_DYNAMIC_FEAT not in r for r in inputs.records)
    assert inputs.dates[0] == pd.Timestamp("2019-05-01") and inputs.dates[-1] == pd.Timestamp("2020-04-01")
    frame = fc.forecast_frame(inputs.keys, inputs.dates, ReadableModel(12).predict(inputs.records), "Month")
    assert list(frame.columns[:4]) == ["State", "Industry", "Month", "horizon"]
    changes = fc.changes_vs_last_season(monthly, inputs.series, inputs.keys, np.zeros((len(inputs.records), 12)))
    assert (changes["periods_compared"] == 12).all()  # a season of 12 months back


# -- what-if -------------------------------------------------------------------------------------
def test_a_what_if_changes_a_covariate_for_the_series_of_one_attribute_value_on_named_days(shops):
    inputs = fc.forecast_inputs(shops, shops.encoding, H)
    encoding = shops.encoding
    price, promo = encoding.feature("price"), [f.name for f in encoding.dynamic_feat].index("promo")
    scenario = fc.Scenario(
        "bakery-discount",
        select={"family": ["bakery"], "shop": ["north", "south"]},
        first_period="2021-06-30",
        last_period="2021-07-01",
        changes=(fc.FeatureChange("price", add=-0.5), fc.FeatureChange("promo", set_to=1)),
    )
    records, changed = fc.apply_scenario(inputs.records, inputs.keys, H, inputs.dates, scenario, encoding)
    chosen = ((inputs.keys["family"] == "bakery") & inputs.keys["shop"].isin(["north", "south"])).to_numpy()
    assert chosen.sum() == 4 and (changed == chosen).all()
    days = np.isin(inputs.dates, pd.to_datetime(["2021-06-30", "2021-07-01"]))
    for before, after, selected in zip(inputs.records, records, chosen, strict=True):
        old, new = np.asarray(before[FIELD_DYNAMIC_FEAT]), after[FIELD_DYNAMIC_FEAT]
        if not selected:
            assert after is before
            continue
        delta = fc.to_raw(new[0, -H:], price) - fc.to_raw(old[0, -H:], price)
        np.testing.assert_allclose(delta, np.where(days, -0.5, 0.0), atol=1e-9)
        np.testing.assert_array_equal(new[promo, -H:], np.where(days, 1.0, old[promo, -H:]))
        np.testing.assert_array_equal(new[:, :-H], old[:, :-H])  # the history is untouched
        np.testing.assert_array_equal(new[2], old[2])  # day_of_week
    assert fc.Scenario.from_dict(scenario.to_dict()) == scenario


@pytest.mark.parametrize(
    ("change", "select", "message"),
    [
        (fc.FeatureChange("day_of_week", add=1), {}, "day_of_week is a calendar feature, not a known-ahead covariate"),
        (fc.FeatureChange("promo", multiply=2), {}, "promo is a 0/1 flag"),
        (fc.FeatureChange("price", add=1), {"family": ["fish"]}, "family='fish' was not seen in training"),
        (fc.FeatureChange("price", add=1), {"shop": ["west"]}, "shop='west' was not seen in training"),
    ],
)
def test_bad_what_ifs_on_another_layout_are_refused(shops, change, select, message):
    inputs = fc.forecast_inputs(shops, shops.encoding, H)
    with pytest.raises(ConfigurationError, match=message):
        fc.apply_scenario(
            inputs.records,
            inputs.keys,
            H,
            inputs.dates,
            fc.Scenario("x", select=select, changes=(change,)),
            shops.encoding,
        )


def test_a_covariate_used_lagged_by_the_horizon_is_not_a_what_if():
    text = SHOP_SPEC.replace(
        "price: {fill: ffill, scale: standard}",
        "price: {fill: ffill, scale: standard, known_ahead: false, lag_by_horizon: true}",
    )
    raw = shop_raw()
    raw.spec = parse_spec(text, "lagged.yaml")
    encoded = encode(raw)
    assert fc.changeable_features(encoded.encoding) == ["promo"]
    with pytest.raises(ConfigurationError, match="price is a lagged feature, not a known-ahead covariate"):
        fc.Scenario("x", changes=(fc.FeatureChange("price", add=1),)).validate(encoded.encoding)


def test_run_scenario_forecasts_the_changed_series_against_their_baseline(shops):
    inputs = fc.forecast_inputs(shops, shops.encoding, H)
    scenario = fc.Scenario("dearer-dairy", select={"family": ["dairy"]}, changes=(fc.FeatureChange("price", add=1.0),))
    frame = fc.run_scenario(scenario, shops, inputs, shops.encoding, ReadableModel(H), "m1", H)
    assert list(frame.columns[:6]) == ["shop", "item", "family", "kind", "day", "horizon"]
    assert set(frame["family"]) == {"dairy"} and (frame["kind"] == "changed").all()
    assert len(frame) == int((inputs.keys["family"] == "dairy").sum()) * H
    # The stand-in lowers the forecast by 5 per scaled unit of price: +1 raw is +1/std scaled.
    np.testing.assert_allclose(frame["difference"], -5.0 / shops.encoding.feature("price").std)
    summary = fc.scenario_summary(scenario, frame, inputs.dates, shops.encoding.freq, H)
    assert summary["series_changed"] == 6 and summary["periods"] == "2021-06-29..2021-07-05"
    assert summary["selection"] == "family in ['dairy']"


# -- cold start ----------------------------------------------------------------------------------
def test_cold_start_takes_the_attributes_features_and_peers_of_a_new_combination(shops):
    inputs = fc.forecast_inputs(shops, shops.encoding, H)
    shop, item = ABSENT
    new = fc.cold_start(shops, inputs, shops.encoding, {"shop": shop, "item": str(item)}, H, max_peers=15)
    assert new.key == {"shop": shop, "item": item, "family": ITEMS[item]}  # the family from the items table
    assert shops.encoding.decode(new.record[FIELD_CAT]) == new.key
    assert np.isnan(new.record[FIELD_TARGET]).all()
    # Its features are its item's (price and promo are keyed by item): the same as in another shop.
    other = int(np.flatnonzero((inputs.keys["item"] == item).to_numpy())[0])
    np.testing.assert_array_equal(
        new.record[FIELD_DYNAMIC_FEAT][:, -H:], inputs.records[other][FIELD_DYNAMIC_FEAT][:, -H:]
    )
    # The family describes the item, so the peers are the shop's other items of the same family.
    assert new.peer_rule == f"shop {shop}, family {ITEMS[item]}"
    peers = inputs.keys.iloc[new.peers]
    assert len(peers) and (peers["shop"] == shop).all() and (peers["family"] == ITEMS[item]).all()


def test_a_scenario_with_a_new_combination_forecasts_it_at_its_peers_level(shops):
    inputs = fc.forecast_inputs(shops, shops.encoding, H)
    shop, item = ABSENT
    scenario = fc.Scenario("new-item", new_series=[{"shop": shop, "item": item}])
    frame = fc.run_scenario(scenario, shops, inputs, shops.encoding, ReadableModel(H), "m1", H)
    assert frame[["shop", "item", "family"]].drop_duplicates().values.tolist() == [[shop, item, ITEMS[item]]]
    assert frame["kind"].iloc[0] == f"cold start (peers: shop {shop}, family {ITEMS[item]}, 1 series)"
    peer = (shops.keys["shop"] == shop) & (shops.keys["family"] == ITEMS[item])
    level = np.nanmean(shops.target[np.flatnonzero(peer.to_numpy()), -7:])
    assert 0.5 * level < frame["mean"].mean() < 1.5 * level
    assert (frame["baseline_mean"] == 0).all() and (frame["difference"] == frame["mean"]).all()


def test_cold_start_refuses_a_value_never_seen_in_training(shops):
    inputs = fc.forecast_inputs(shops, shops.encoding, H)
    with pytest.raises(EncodingError) as error:
        fc.cold_start(shops, inputs, shops.encoding, {"shop": "west", "item": 1}, H, max_peers=15, model="model m1")
    message = str(error.value)
    assert message.startswith("cold start of shop west, item 1 refused: shop='west' was not seen")
    assert "so model m1 cannot forecast a series with shop='west'" in message
    with pytest.raises(ConfigurationError, match="give a value for every id column"):
        fc.cold_start(shops, inputs, shops.encoding, {"shop": "east"}, H, max_peers=15)


def test_cold_start_without_attributes_or_covariates_takes_peers_sharing_an_id(monthly):
    inputs = fc.forecast_inputs(monthly, monthly.encoding, 12)
    state, industry = MONTHLY_ABSENT
    new = fc.cold_start(monthly, inputs, monthly.encoding, {"State": state, "Industry": industry}, 12, max_peers=3)
    assert FIELD_DYNAMIC_FEAT not in new.record
    assert new.peer_rule == f"State {state} or Industry {industry}"
    peers = inputs.keys.iloc[new.peers]
    assert ((peers["State"] == state) | (peers["Industry"] == industry)).all() and len(peers) == 3
    with pytest.raises(ConfigurationError, match="the model has no dynamic feature 'price'"):
        fc.Scenario("x", changes=(fc.FeatureChange("price", add=1),)).validate(monthly.encoding)


def test_scenario_periods_are_labels_on_the_specs_frequency(monthly):
    inputs = fc.forecast_inputs(monthly, monthly.encoding, 12)
    scenario = fc.Scenario(
        "x", first_period="2019-06-01", last_period="2019-07-01", new_series=[{"State": "QLD", "Industry": "Cafes"}]
    )
    assert scenario.periods_mask(inputs.dates, "MS").tolist() == [False, True, True] + [False] * 9
    with pytest.raises(
        ConfigurationError,
        match="2019-06-15 is not a period of the frequency MS; name a period by its label, e.g. 2019-07-01",
    ):
        fc.Scenario("x", first_period="2019-06-15").periods_mask(inputs.dates, "MS")


def test_kept_scenarios_are_read_back_and_an_unreadable_one_is_named(tmp_path):
    from deepar_assets.assets.forecasting import saved_scenarios
    from deepar_assets.storage.local import FolderStore

    store = FolderStore(tmp_path)
    kept = fc.Scenario("cheaper", select={"shop": ["east"]}, changes=(fc.FeatureChange("price", multiply=0.9),))
    store.put_bytes("scenarios/cheaper/scenario.json", json.dumps(kept.to_dict()).encode())
    store.put_bytes("scenarios/old/scenario.json", json.dumps({"name": "old", "depts": [1]}).encode())
    with pytest.raises(
        ConfigurationError, match=r"scenarios/old/scenario.json: a kept scenario that cannot be read .*unknown key"
    ):
        saved_scenarios(store)
    assert saved_scenarios(store, frozenset({"old"})) == {"cheaper": kept}  # given again in the run config: replaced
    whole = json.dumps(kept.to_dict()).encode()
    for name, broken in (("cut", whole[: len(whole) // 2]), ("list", b"[1, 2]"), ("binary", b"\xff\xfe{")):
        store.put_bytes(f"scenarios/{name}/scenario.json", broken)
        with pytest.raises(
            ConfigurationError, match=rf"scenarios/{name}/scenario.json: a kept scenario that cannot be"
        ):
            saved_scenarios(store, frozenset({"old"}))
        store.delete(f"scenarios/{name}/scenario.json")
