"""The whole graph with forecasts, backtest_report and scenario_forecasts, in process, with real
(small) training, on sources where the outcome against seasonal naive is known by construction:
the grown source (DeepAR must win) publishes; on the periodic one (seasonal naive is nearly
perfect) DeepAR alone is stopped by the blocking check, and every downstream asset refuses it,
while the combination leans on the seasonal candidates and is published."""

import json
import logging
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from deepar_assets.assets.forecasting import DEEPAR_CHECK, GATE_CHECK
from deepar_assets.constants import QUANTILES
from deepar_assets.storage.local import FolderStore
from deepar_assets_tests.forecasting.conftest import (
    GRAPH,
    LABOR_DAY_2011,
    H,
    materialize_graph,
    metadata,
    resources,
    run_config,
)

QUANTILE_COLUMNS = [f"p{round(q * 100)}" for q in QUANTILES]
T = "2011-08-12"  # the last sales week of SMALL_SPEC (80 weeks from 2010-02-05)
HORIZON = ["2011-08-19", "2011-08-26", "2011-09-02", "2011-09-09"]


def _absent_pair(source: Path) -> tuple[int, int]:
    sales = pd.read_csv(source / "train.csv")
    present = set(zip(sales["Store"], sales["Dept"], strict=True))
    for store in sorted(sales["Store"].unique()):
        for dept in sorted(sales["Dept"].unique()):
            if (store, dept) not in present:
                return int(store), int(dept)
    raise AssertionError("SMALL_SPEC has every (Store, Dept) pair; the cold-start test needs one missing")


SCENARIOS = [
    {
        "name": "labor-day-off",
        "description": "What if Labor Day 2011 were not a holiday week?",
        "first_period": LABOR_DAY_2011,
        "last_period": LABOR_DAY_2011,
        "changes": [{"feature": "IsHoliday", "set_to": 0}],
    },
    {
        "name": "type-a-markdowns",
        "description": "A 5,000 $ MarkDown1 in the type A stores in the first two weeks",
        "select": {"Type": ["A"]},
        "first_period": HORIZON[0],
        "last_period": HORIZON[1],
        "changes": [{"feature": "MarkDown1", "add": 5000.0}],
    },
]


LATE_WEEKS = 6  # the late series' weeks: 2 of history before the 4 of the validation window


def _with_a_late_series(source: Path, folder: Path) -> Path:
    """A copy of ``source`` where the last (Store, Dept) pair with every week sold only in the
    last ``LATE_WEEKS`` weeks: too short a history for the statistical baselines, which fall
    back to seasonal naive for it in the backtest."""
    shutil.copytree(source, folder)
    sales = pd.read_csv(folder / "train.csv")
    weeks = sales.groupby(["Store", "Dept"]).size()
    store, dept = weeks[weeks == sales["Date"].nunique()].index[-1]
    dates = pd.to_datetime(sales["Date"])
    early = (
        (sales["Store"] == store) & (sales["Dept"] == dept) & (dates <= dates.max() - pd.Timedelta(weeks=LATE_WEEKS))
    )
    sales[~early].to_csv(folder / "train.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def published(tmp_path_factory, grown_source):
    tmp_path = tmp_path_factory.mktemp("published")
    source = _with_a_late_series(grown_source, tmp_path / "source")
    store, dept = _absent_pair(source)
    scenarios = [*SCENARIOS, {"name": "new-pair", "new_series": [{"Store": store, "Dept": dept}]}]
    instance = dg.DagsterInstance.ephemeral()
    config = run_config(
        scenario_forecasts={"scenarios": scenarios},
        backtest_report={"rolling_origins": 2, "publish_baseline_for_losers": True},
    )
    result = materialize_graph(tmp_path, source, instance, config)
    return tmp_path, result, instance, (store, dept)


def test_the_gate_passes_and_says_why(published):
    _, result, _, _ = published
    assert result.success
    [gate] = [e for e in result.get_asset_check_evaluations() if e.check_name == GATE_CHECK]
    assert gate.passed
    assert gate.metadata["model WMAE"].value < gate.metadata["seasonal_naive WMAE"].value
    assert "beats seasonal naive" in gate.description


def test_deepar_is_three_networks_by_default_and_every_refit_trains_three(published):
    """best_model.members 0 is the local engine's ensemble: three networks with the run's seed
    and the next two; the combination's and the rolling backtest's refits train as many."""
    tmp_path, result, instance, _ = published
    best = metadata(result, "best_model")
    assert best["members"] == 3
    card = json.loads(FolderStore(tmp_path / "storage").get_bytes(f"models/{best['model_id']}/model.json"))
    assert card["members"]["seeds"] == [5, 6, 7]
    infos = [e.user_message for e in instance.all_logs(result.run_id)]
    refits = [m for m in infos if m.startswith(f"refitting {best['model_id']}'s hyperparameters")]
    assert len(refits) >= 2 and all("3 networks each (seeds [5, 6, 7])" in m for m in refits), refits


def test_forecasts_are_decoded_and_stored_as_csv_and_parquet(published):
    tmp_path, result, _, _ = published
    meta = metadata(result, "forecasts")
    model = metadata(result, "best_model")
    store = FolderStore(tmp_path / "storage")
    prefix = f"forecasts/{model['model_id']}/{T}"
    assert meta["csv_uri"] == store.uri(f"{prefix}/forecasts.csv")
    csv = pd.read_csv(meta["csv_uri"])
    parquet = pd.read_parquet(meta["parquet_uri"])
    sales = pd.read_csv(_source_of(result))
    pairs = sales[["Store", "Dept"]].drop_duplicates()
    assert len(csv) == len(parquet) == len(pairs) * H == meta["rows"]
    assert meta["series"] == len(pairs) and meta["series_skipped"] == 0
    assert list(csv.columns) == ["Store", "Dept", "Type", "Date", "horizon", "mean", *QUANTILE_COLUMNS]
    assert sorted(csv["Date"].unique()) == HORIZON
    assert set(map(tuple, csv[["Store", "Dept"]].drop_duplicates().to_numpy())) == set(map(tuple, pairs.to_numpy()))
    types = pd.read_csv(_source_of(result).parent / "stores.csv").set_index("Store")["Type"]
    assert (csv["Type"] == csv["Store"].map(types)).all()
    values = parquet[QUANTILE_COLUMNS].to_numpy()
    assert (np.diff(values, axis=1) >= -1e-6).all(), "quantiles must not cross"
    assert np.isfinite(parquet["mean"]).all()
    np.testing.assert_allclose(csv["mean"], parquet["mean"], atol=0.006)
    # The level the model learnt: the last observed weeks, not the tenfold-smaller year before.
    recent = (
        sales[pd.to_datetime(sales["Date"]) > pd.Timestamp(T) - pd.Timedelta(weeks=8)]["Weekly_Sales"].abs().sum() / 8
    )
    assert 0.5 * recent < parquet.groupby("Date")["mean"].sum().mean() < 1.5 * recent
    summary = json.loads(store.get_bytes(f"{prefix}/summary.json"))
    assert summary["last_observed_period"] == T and summary["periods"] == HORIZON
    assert summary["dataset"] == meta["dataset"] == "synthetic"


def _source_of(result) -> Path:
    events = result.asset_materializations_for_node("raw_sales")
    return Path(events[-1].metadata["source"].value) / "train.csv"


def test_forecasts_show_a_fan_chart_and_the_largest_changes(published):
    _, result, _, _ = published
    meta = metadata(result, "forecasts")
    chart = meta["fan_chart"]
    assert chart.startswith("![Forecast after 2011-08-12") and "(data:image/png;base64," in chart
    import base64

    png = base64.b64decode(chart.split("base64,", 1)[1].rstrip(")"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    table = meta["largest_changes_vs_last_season"]
    names = [c.name for c in table.schema.columns]
    assert names[:3] == ["Store", "Dept", "Type"] and {"forecast", "last_season", "change", "change_pct"} <= set(names)
    changes = [r.data["change"] for r in table.records]
    assert len(changes) == 10 and changes == sorted(changes, key=abs, reverse=True)
    # Everything grew tenfold a year ago, so this year's weeks are far above those a season (52 weeks) earlier.
    assert all(r.data["change_pct"] > 100 for r in table.records[:5])


def test_backtest_report_compares_against_baselines(published):
    tmp_path, result, instance, _ = published
    meta = metadata(result, "backtest_report")
    overall = {r.data["model"]: r.data for r in meta["overall"].records}
    assert set(overall) == {"DeepAR", "seasonal_naive", "AutoETS", "MSTL", "AutoTheta", "combination"}
    # Every model at each origin; the combination re-chosen at the earlier one from the history before it only.
    by_origin = [r.data for r in meta["by_origin"].records]
    assert [(r["origin"], r["model"]) for r in by_origin] == [(o, m) for o in meta["origins"] for m in overall]
    for row in by_origin:
        naive = next(r for r in by_origin if r["origin"] == row["origin"] and r["model"] == "seasonal_naive")
        assert row["WMAE_vs_seasonal_naive"] == pytest.approx(row["WMAE"] / naive["WMAE"], rel=1e-3)
    selections = [r.data for r in meta["selections"].records]
    assert [r["origin"] for r in selections] == meta["origins"]
    assert selections[1]["chosen_on"] == "the combination asset's choice (the published one)"
    assert selections[0]["chosen_on"].startswith("windows [4, 8, 12]")  # periods before the origin's window ends
    for row in selections:
        assert sum(v for k, v in row.items() if k.startswith("weight_")) == pytest.approx(1, abs=1e-3)
    for row in overall.values():
        for metric in ("WMAE", "mean_wQuantileLoss", "RMSE", "MASE"):
            assert row[metric] > 0, (row, metric)
    for model in ("seasonal_naive", "DeepAR", "AutoETS"):  # seasonal naive's band: its own seasonal errors
        assert 0 <= overall[model]["coverage_80"] <= 1
    # The validation window alone (the gate's) with the combination, as with one origin.
    with_combination = {r.data["model"]: r.data for r in meta["validation_window_with_combination"].records}
    assert set(with_combination) == {*overall, "combination"}
    assert meta["combination WMAE"] == pytest.approx(with_combination["combination"]["WMAE"], rel=1e-6)
    assert overall["DeepAR"]["WMAE"] < overall["seasonal_naive"]["WMAE"]
    assert meta["origins"] == ["2011-06-17", "2011-07-15"]  # T - h - h and T - h
    types = {r.data["Type"] for r in meta["by_Type"].records}
    assert types == set(pd.read_csv(_source_of(result).parent / "stores.csv")["Type"])
    assert meta["by_Dept"].records and "best" in meta["by_Dept"].records[0].data
    assert {r.data["Store"] for r in meta["by_Store"].records} == set(pd.read_csv(_source_of(result))["Store"])
    assert meta["weighting"] == "WMAE: periods where IsHoliday is true weigh 5"
    assert meta["chart"].count("data:image/png;base64,") == 2
    model_id = meta["model_id"]
    store = FolderStore(tmp_path / "storage")
    report = json.loads(store.get_bytes(f"backtests/{model_id}/report.json"))
    # The late series (2 weeks of history at the last origin, none at the first) is too short
    # for the statistical baselines: seasonal naive stands in, and says so, by model and reason.
    fallbacks = meta["baseline_fallbacks"]
    assert fallbacks == report["baseline_fallbacks"] and set(fallbacks) == {"AutoETS", "MSTL", "AutoTheta"}
    for fell in fallbacks.values():
        assert fell["series"] == fell["forecasts"] == 1 and fell["of_series"] == meta["series"]
        # Two origins, but the late series has no history before the first one.
        assert fell["of_series"] < fell["of_forecasts"] < 2 * fell["of_series"]
        assert sum(fell["reasons"].values()) == 1 and all(reason for reason in fell["reasons"])
    logged = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert any(m.startswith("AutoETS could not fit every series; seasonal naive stands in") for m in logged)
    # The baselines at both origins are the combination's own fits (its validation window and the
    # origin it re-chose at), fallbacks included: fitted once.
    infos = [e.user_message for e in instance.all_logs(result.run_id)]
    assert sum("seasonal_naive, AutoETS, MSTL, AutoTheta as the combination fitted them" in m for m in infos) == 2
    assert report["best_baseline"] == meta["best_baseline"] != "DeepAR"
    losers = pd.read_csv(store.uri(f"backtests/{model_id}/losers.csv"))
    assert len(losers) == meta["series_where_deepar_loses"]
    best = meta["best_baseline"]
    assert (losers["deepar_WMAE"] > losers[f"{best}_WMAE"]).all()
    if len(losers):
        published = pd.read_parquet(store.uri(f"forecasts/{model_id}/{T}/baseline_for_losers.parquet"))
        assert set(map(tuple, published[["Store", "Dept"]].drop_duplicates().to_numpy())) == set(
            map(tuple, losers[["Store", "Dept"]].to_numpy())
        )
        assert sorted(published["Date"].astype(str).str[:10].unique()) == HORIZON
        # The best baseline's own forecast, but where it could not fit the series (the late one, at most).
        sales = pd.read_csv(_source_of(result))
        late = sales.groupby(["Store", "Dept"]).size().idxmin()
        is_late = (published["Store"] == late[0]) & (published["Dept"] == late[1])
        assert (published.loc[~is_late, "model"] == best).all()
        assert published.loc[is_late, "model"].isin([best, "seasonal_naive"]).all()


def test_scenarios_change_only_what_they_select(published):
    tmp_path, result, _, (store, dept) = published
    meta = metadata(result, "scenario_forecasts")
    summary = {r.data["scenario"]: r.data for r in meta["summary"].records}
    assert set(summary) == {"labor-day-off", "type-a-markdowns", "new-pair"}
    stores = pd.read_csv(_source_of(result).parent / "stores.csv")
    sales = pd.read_csv(_source_of(result))
    a_series = sales[sales["Store"].isin(stores.loc[stores["Type"] == "A", "Store"])][
        ["Store", "Dept"]
    ].drop_duplicates()
    assert summary["type-a-markdowns"]["series_changed"] == len(a_series) > 0
    assert summary["labor-day-off"]["series_changed"] == len(sales[["Store", "Dept"]].drop_duplicates())
    assert summary["new-pair"]["new_series"] == 1 and summary["new-pair"]["series_changed"] == 0
    assert meta["chart"].count("data:image/png;base64,") == 1
    model_id = meta["model_id"]
    folder = FolderStore(tmp_path / "storage")
    frame = pd.read_parquet(folder.uri(f"scenarios/type-a-markdowns/{model_id}/{T}/forecasts.parquet"))
    assert set(frame["Type"]) == {"A"}
    np.testing.assert_allclose(frame["difference"], frame["mean"] - frame["baseline_mean"])
    assert (frame["difference"] != 0).any()
    kept = json.loads(folder.get_bytes("scenarios/type-a-markdowns/scenario.json"))
    assert kept["changes"] == [{"feature": "MarkDown1", "add": 5000.0}] and kept["select"] == {"Type": ["A"]}
    cold = pd.read_parquet(folder.uri(f"scenarios/new-pair/{model_id}/{T}/forecasts.parquet"))
    assert list(zip(cold["Store"], cold["Dept"], strict=True)) == [(store, dept)] * H
    assert cold["kind"].iloc[0].startswith(f"cold start (peers: Dept {dept}, ") and (cold["mean"] > 0).all()


def test_kept_scenarios_run_again_without_config(published, grown_source):
    """A later run without any scenario in its config forecasts the kept ones again (the same
    model, data and seed: the same numbers)."""
    tmp_path, first, instance, _ = published
    again = dg.materialize(
        GRAPH, selection=["scenario_forecasts"], resources=resources(tmp_path, grown_source), instance=instance
    )
    before = {r.data["scenario"]: r.data for r in metadata(first, "scenario_forecasts")["summary"].records}
    after = {r.data["scenario"]: r.data for r in metadata(again, "scenario_forecasts")["summary"].records}
    assert after == before


def test_a_kept_scenario_whose_periods_have_passed_is_skipped_and_reported(published, grown_source):
    """A scenario kept from a run on older data, for a week that is now history: the others run,
    it is skipped and listed with the reason, and its file is left as it was. Given again in
    the run config, the same scenario fails the run."""
    tmp_path, first, instance, _ = published
    folder = FolderStore(tmp_path / "storage")
    stale = {**SCENARIOS[1], "name": "old-markdowns", "first_period": "2011-07-01", "last_period": T}
    folder.put_bytes("scenarios/old-markdowns/scenario.json", json.dumps(stale).encode())
    try:
        again = dg.materialize(
            GRAPH, selection=["scenario_forecasts"], resources=resources(tmp_path, grown_source), instance=instance
        )
        meta = metadata(again, "scenario_forecasts")
        assert meta["scenarios"] == 3 and meta["scenarios_skipped"] == 1
        assert {r.data["scenario"] for r in meta["summary"].records} == {
            "labor-day-off",
            "type-a-markdowns",
            "new-pair",
        }
        [skipped] = meta["skipped_scenarios"].records
        assert skipped.data["scenario"] == "old-markdowns"
        reason = skipped.data["reason"]
        assert f"periods 2011-07-01..{T} reach outside the forecast horizon {HORIZON[0]}..{HORIZON[-1]}" in reason
        assert reason.endswith("; 2011-07-01 has passed")
        warnings = [
            e.user_message
            for e in instance.all_logs(again.run_id)
            if e.level == logging.WARNING and "kept scenario old-markdowns skipped" in e.user_message
        ]
        assert warnings and "delete the folder" in warnings[0]
        assert json.loads(folder.get_bytes("scenarios/old-markdowns/scenario.json")) == stale
        given = dg.materialize(
            GRAPH,
            selection=["scenario_forecasts"],
            resources=resources(tmp_path, grown_source),
            instance=instance,
            run_config={"ops": {"scenario_forecasts": {"config": {"scenarios": [stale]}}}},
            raise_on_error=False,
        )
        assert not given.success
    finally:
        folder.delete("scenarios/old-markdowns/scenario.json")


def test_deepar_alone_that_loses_to_seasonal_naive_is_not_published(tmp_path, periodic_source):
    """With DeepAR as the only candidate (the pure-DeepAR switch), the gate scores DeepAR."""
    instance = dg.DagsterInstance.ephemeral()
    config = run_config(combination={"candidates": ["DeepAR"]})
    result = materialize_graph(tmp_path, periodic_source, instance, config, raise_on_error=False)
    assert not result.success
    [gate] = [e for e in result.get_asset_check_evaluations() if e.check_name == GATE_CHECK]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.ERROR
    assert "does not beat seasonal naive" in gate.description and "refuse this model" in gate.description
    assert "DeepAR alone" in gate.description
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"best_model", "combination"} <= materialized
    assert not materialized & {"forecasts", "backtest_report", "scenario_forecasts"}
    assert not (tmp_path / "storage" / "forecasts").exists()
    # make run's summary tells this outcome apart from an error: it says why, and succeeds.
    from deepar_assets.summary import _gate_refusal

    assert "does not beat seasonal naive" in _gate_refusal(instance, result.run_id)
    # A later run of forecasts alone refuses it too, and says why.
    later = dg.materialize(
        GRAPH,
        selection=["forecasts"],
        resources=resources(tmp_path, periodic_source),
        instance=instance,
        raise_on_error=False,
    )
    assert not later.success
    [failure] = [e for e in later.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(f"refusing to publish: the blocking check {GATE_CHECK} on combination failed")
    assert _gate_refusal(instance) is None  # a run that failed for another reason is an error
    assert not (tmp_path / "storage" / "forecasts").exists()


def test_the_combination_publishes_where_deepar_alone_loses_to_seasonal_naive(tmp_path, periodic_source):
    """Seasonal naive is nearly perfect here: DeepAR's own check warns, and the combination,
    chosen on the windows before the validation window, leans on the seasonal candidates and
    passes the gate."""
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_graph(tmp_path, periodic_source, instance, run_config())
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    own, gate = checks[DEEPAR_CHECK], checks[GATE_CHECK]
    assert not own.passed and own.severity == dg.AssetCheckSeverity.WARN
    assert gate.passed and "combination of DeepAR, seasonal_naive, MSTL, AutoETS, AutoTheta" in gate.description
    combination = metadata(result, "combination")
    mean_weights = combination["mean_weights"]
    assert (
        mean_weights["horizon"]["DeepAR"]
        < 0.5
        < mean_weights["horizon"]["seasonal_naive"] + mean_weights["horizon"]["MSTL"]
    )
    assert combination["combination WMAE"] < combination["seasonal_naive WMAE"] < combination["DeepAR WMAE"]
    weights = pd.read_csv(
        tmp_path / "storage" / "forecasts" / metadata(result, "best_model")["model_id"] / T / "weights.csv"
    )
    assert [c for c in weights.columns if c.startswith("weight_")] == [
        "weight_DeepAR",
        "weight_seasonal_naive",
        "weight_MSTL",
        "weight_AutoETS",
        "weight_AutoTheta",
    ]
    np.testing.assert_allclose(weights.filter(like="weight_").sum(axis=1), 1.0, atol=1e-3)


def test_cold_start_takes_its_level_from_the_peers_batched_with_it(published):
    """GluonTS's DeepAR scales a series with no observed week by the mean level of the batch:
    alone, the new pair would be forecast at ~0; beside its peers, at their level."""
    from deepar_assets.domain.forecasting import cold_start, forecast_inputs
    from deepar_assets.engines.inference import forecaster, model_dataset, model_encoding
    from deepar_assets.engines.local import LocalEngine

    tmp_path, result, _, (store_value, dept) = published
    model, encoded = result.asset_value("best_model"), result.asset_value("encoded_series")
    store = FolderStore(tmp_path / "storage")
    dataset = model_dataset(store, model.card, result.asset_value("s3_datasets"))
    encoding = model_encoding(store, dataset)
    inputs = forecast_inputs(encoded, encoding, H)
    engine = forecaster(LocalEngine(store, tmp_path / "work"), model, dataset)
    new = cold_start(
        encoded, inputs, encoding, {"Store": store_value, "Dept": dept}, H, max_peers=engine.batch_size - 1
    )
    peers = [inputs.records[p] for p in new.peers]
    beside = engine.predict([new.record, *peers])
    alone = engine.predict([new.record])
    peer_level = np.nanmean([np.nanmean(np.abs(r["target"][-8:])) for r in peers])
    assert 0.1 * peer_level < beside["mean"][0].mean() < 10 * peer_level
    assert abs(alone["mean"][0]).mean() < 1e-3 * peer_level


def test_make_runs_summary_says_how_the_model_scored_and_where_the_forecasts_are(published, capsys):
    from deepar_assets import summary

    _, result, instance, _ = published
    assert summary.report(instance, result.run_id, failed=False) == 0
    out = capsys.readouterr().out
    assert f"run:       {result.run_id}" in out
    model = metadata(result, "best_model")
    naive = model["seasonal_naive validation:WMAE"]
    assert "dataset:   synthetic" in out
    assert f"validation:WMAE: {model['validation:WMAE']:.5g} (seasonal naive {naive:.5g})" in out
    assert f"forecasts: {metadata(result, 'forecasts')['csv_uri']}" in out
    assert f"backtest:  {metadata(result, 'backtest_report')['report_uri']}" in out
    # The first vintage: nothing has happened since to score it on.
    assert "accuracy:  1 vintage(s) of forecasts kept, 0 scored on the actuals that followed; nothing to judge" in out


def test_forecasts_with_newer_data_skip_what_the_model_cannot_embed(published, tmp_path):
    """New data (a store that opened after training) with the old model: its dataset version is
    read back from storage, the known series are forecast in the model's encoding, and the new
    store's series are listed as skipped. Runs last in this module: it changes the stored data."""
    import shutil

    model_tmp, first, instance, _ = published
    source = tmp_path / "with_new_store"
    shutil.copytree(_source_of(first).parent, source)
    sales, features, stores = (pd.read_csv(source / f"{name}.csv") for name in ("train", "features", "stores"))
    new = int(stores["Store"].max()) + 1
    sales = pd.concat([sales, sales[sales["Store"] == 1].assign(Store=new)])
    features = pd.concat([features, features[features["Store"] == 1].assign(Store=new)])
    stores = pd.concat([stores, stores[stores["Store"] == 1].assign(Store=new)])
    for name, frame in (("train", sales), ("features", features), ("stores", stores)):
        frame.to_csv(source / f"{name}.csv", index=False)
    from deepar_assets_tests.conftest import SMALL_SPEC, materialize_weeks, week_range

    again = materialize_weeks(
        GRAPH,
        *week_range(SMALL_SPEC),
        selection=["raw_sales", "encoded_series", "s3_datasets", "forecasts"],
        resources=resources(model_tmp, source),
        run_config={"ops": {"s3_datasets": {"config": {"prediction_length": H}}}},
        instance=instance,
    )
    meta = metadata(again, "forecasts")
    assert meta["model_id"] == metadata(first, "forecasts")["model_id"]
    assert meta["model_data_version"] != metadata(again, "s3_datasets")["version"]
    skipped = meta["skipped"]
    new_series = sales[sales["Store"] == new][["Store", "Dept"]].drop_duplicates()
    assert meta["series_skipped"] == len(new_series) == len(skipped.records)
    assert all(r.data["Store"] == new and "not seen in training" in r.data["reason"] for r in skipped.records)
    assert meta["series"] == metadata(first, "forecasts")["series"]
    assert pd.read_csv(meta["csv_uri"])["Store"].isin([new]).sum() == 0
