"""The whole graph on a dataset that is not Walmart's, declared in a spec file: daily units of
items in shops (string shop ids), an item attribute (family), known-ahead price and promo per
item. Real (small) training; forecasts, the backtest and scenarios (a what-if on the price of
one family, and cold start of a new shop × item combination) name the spec's own columns.

The series are noisy around a weekly cycle, so seasonal naive (last week's day) repeats last
week's noise and a model of the level and the cycle beats it: the gate passes."""

from __future__ import annotations

import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from deepar_assets.assets import build_assets
from deepar_assets.assets.forecasting import FORECASTING_CHECKS, GATE_CHECK
from deepar_assets.domain.spec import load_spec
from deepar_assets.storage.local import FolderStore
from deepar_assets_tests.conftest import materialize_weeks
from deepar_assets_tests.forecasting.conftest import GOOD_TRAINING, metadata, resources
from deepar_assets_tests.forecasting.shops import ABSENT, ITEMS, SHOP_SPEC, shop_raw

H = 7
T = "2021-06-28"  # 120 days from 2021-03-01
HORIZON = [f"{d:%Y-%m-%d}" for d in pd.date_range("2021-06-29", periods=H, freq="D")]
SCENARIOS = [
    {
        "name": "bakery-discount",
        "select": {"family": ["bakery"]},
        "first_period": "2021-06-30",
        "last_period": "2021-07-02",
        "changes": [{"feature": "price", "add": -0.5}],
    },
    {"name": "new-item", "new_series": [{"shop": ABSENT[0], "item": ABSENT[1]}]},
]


@pytest.fixture(scope="module")
def shops_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("shops_graph")
    folder = tmp_path / "data"
    folder.mkdir()
    raw = shop_raw(noise=0.3)
    raw.target.to_csv(folder / "sales.csv", index=False, date_format="%Y-%m-%d")
    raw.related["prices"].astype({"promo": int}).to_csv(folder / "prices.csv", index=False, date_format="%Y-%m-%d")
    raw.metadata["items"].to_csv(folder / "items.csv", index=False)
    spec_file = tmp_path / "corner_shops.yaml"
    spec_file.write_text(SHOP_SPEC)
    graph = [*build_assets(load_spec(str(spec_file))), *FORECASTING_CHECKS]
    config = {
        "ops": {
            "s3_datasets": {"config": {"prediction_length": H}},
            "tuning_run": {"config": GOOD_TRAINING},
            "scenario_forecasts": {"config": {"scenarios": SCENARIOS}},
        }
    }
    result = materialize_weeks(
        graph,
        "2021-03-01",
        T,
        resources=resources(tmp_path, folder, dataset=str(spec_file)),
        run_config=config,
        instance=dg.DagsterInstance.ephemeral(),
    )
    return tmp_path, result, raw


def test_the_gate_scores_plain_mae_without_declared_weights(shops_run):
    _, result, _ = shops_run
    assert result.success
    [gate] = [e for e in result.get_asset_check_evaluations() if e.check_name == GATE_CHECK]
    assert gate.passed and gate.metadata["model WMAE"].value < gate.metadata["seasonal_naive WMAE"].value


def test_forecasts_name_the_specs_ids_attribute_and_days(shops_run):
    tmp_path, result, raw = shops_run
    meta = metadata(result, "forecasts")
    assert meta["dataset"] == "corner_shops" and meta["last_observed_period"] == T
    csv = pd.read_csv(meta["csv_uri"])
    assert list(csv.columns) == [
        "shop",
        "item",
        "family",
        "day",
        "horizon",
        "mean",
        *[f"p{q}" for q in range(10, 100, 10)],
    ]
    pairs = raw.target[["shop", "item"]].drop_duplicates()
    assert len(csv) == len(pairs) * H and sorted(csv["day"].unique()) == HORIZON
    assert set(map(tuple, csv[["shop", "item"]].drop_duplicates().to_numpy())) == set(map(tuple, pairs.to_numpy()))
    assert (csv["family"] == csv["item"].map(ITEMS)).all()
    changes = [c.name for c in meta["largest_changes_vs_last_season"].schema.columns]
    assert changes[:3] == ["shop", "item", "family"] and "last_season" in changes
    summary = json.loads(FolderStore(tmp_path / "storage").get_bytes(f"forecasts/{meta['model_id']}/{T}/summary.json"))
    assert summary["periods"] == HORIZON


def test_the_backtest_breaks_down_by_the_attribute_and_each_id(shops_run):
    _, result, _ = shops_run
    meta = metadata(result, "backtest_report")
    assert meta["origins"] == ["2021-06-21"]  # T - h, a day on the grid
    assert meta["weighting"] == "WMAE = MAE: the spec declares no period weights"
    assert {r.data["family"] for r in meta["by_family"].records} == {"bakery", "dairy"}
    assert {r.data["shop"] for r in meta["by_shop"].records} == {"east", "north", "south"}
    assert {r.data["item"] for r in meta["by_item"].records} == set(ITEMS)
    losers = meta["losers"]
    assert [c.name for c in losers.schema.columns][:3] == ["shop", "item", "family"]


def test_a_what_if_and_a_cold_start_on_the_specs_columns(shops_run):
    tmp_path, result, _ = shops_run
    meta = metadata(result, "scenario_forecasts")
    summary = {r.data["scenario"]: r.data for r in meta["summary"].records}
    assert (
        summary["bakery-discount"]["series_changed"] == 5
        and summary["bakery-discount"]["periods"] == "2021-06-30..2021-07-02"
    )
    model_id = meta["model_id"]
    store = FolderStore(tmp_path / "storage")
    changed = pd.read_parquet(store.uri(f"scenarios/bakery-discount/{model_id}/{T}/forecasts.parquet"))
    assert set(changed["family"]) == {"bakery"} and (changed["kind"] == "changed").all()
    np.testing.assert_allclose(changed["difference"], changed["mean"] - changed["baseline_mean"])
    outside = ~changed["day"].isin(pd.to_datetime(["2021-06-30", "2021-07-01", "2021-07-02"]))
    # DeepAR forecasts a path: the change of three days may move later days too, never earlier ones.
    assert (changed.loc[changed["day"] < pd.Timestamp("2021-06-30"), "difference"] == 0).all() and outside.any()
    cold = pd.read_parquet(store.uri(f"scenarios/new-item/{model_id}/{T}/forecasts.parquet"))
    shop, item = ABSENT
    assert cold[["shop", "item", "family"]].drop_duplicates().values.tolist() == [[shop, item, ITEMS[item]]]
    assert cold["kind"].iloc[0] == f"cold start (peers: shop {shop}, family {ITEMS[item]}, 1 series)"
    assert (cold["mean"] > 0).all()
