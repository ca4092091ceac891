"""The forecasting assets and the gate in the code location: keys, lineage, descriptions,
the blocking check, and which of them follow upstream by themselves."""

import dagster as dg

from deepar_assets.assets.forecasting import DEEPAR_CHECK, DRIFT_CHECK, GATE_CHECK
from deepar_assets.definitions import build_definitions, defs

FORECASTING = ["forecasts", "backtest_report", "scenario_forecasts"]
PARENTS = {"best_model", "combination", "encoded_series", "s3_datasets"}


def test_the_forecasting_assets_hang_off_the_model_its_combination_and_the_data():
    graph = defs.resolve_asset_graph()
    combination = graph.get(dg.AssetKey("combination"))
    assert {k.to_user_string() for k in combination.parent_keys} == {"best_model"}
    assert combination.description and "past windows" in combination.description
    for key in FORECASTING:
        node = graph.get(dg.AssetKey(key))
        assert {k.to_user_string() for k in node.parent_keys} == PARENTS
        assert node.group_name == "forecasting"
        assert node.description and len(node.description) > 80, f"{key} needs a description for the UI"


def test_the_forecasting_assets_are_the_same_for_any_spec():
    """Only the partitions of raw_sales follow the spec; the forecasting assets read the spec
    from the data they are given."""
    for dataset in ("aus_retail", "store_item_demand"):
        graph = build_definitions(dataset).resolve_asset_graph()
        for key in FORECASTING:
            assert {k.to_user_string() for k in graph.get(dg.AssetKey(key)).parent_keys} == PARENTS
        assert any(s.name == GATE_CHECK for s in graph.get(dg.AssetKey("combination")).check_keys)


def test_the_published_forecast_has_a_blocking_gate_in_the_pipeline_job_and_deepar_a_warning():
    graph = defs.resolve_asset_graph()
    [spec] = [s for s in graph.get(dg.AssetKey("combination")).check_keys if s.name == GATE_CHECK]
    check = graph.get_check_spec(spec)
    assert check.blocking and "seasonal naive" in check.description
    job = defs.resolve_job_def("deepar_pipeline")
    assert spec in job.asset_layer.asset_graph.asset_check_keys
    [own] = [graph.get_check_spec(s) for s in graph.get(dg.AssetKey("best_model")).check_keys if s.name == DEEPAR_CHECK]
    assert not own.blocking and "alone" in own.description


def test_forecasts_follow_a_new_model_or_new_data_and_the_others_run_when_asked():
    graph = build_definitions(tuning_policy="manual").resolve_asset_graph()
    for key in ("forecasts", "combination"):
        assert graph.get(dg.AssetKey(key)).automation_condition.get_label() == "follows_upstream"
    for key in ("backtest_report", "scenario_forecasts"):
        assert graph.get(dg.AssetKey(key)).automation_condition is None


def test_forecast_accuracy_follows_the_forecasts_and_the_actuals_and_carries_the_drift_check():
    graph = build_definitions(tuning_policy="manual").resolve_asset_graph()
    node = graph.get(dg.AssetKey("forecast_accuracy"))
    assert {k.to_user_string() for k in node.parent_keys} == {"forecasts", "encoded_series", "s3_datasets"}
    assert node.automation_condition.get_label() == "follows_upstream"
    [check] = [graph.get_check_spec(k) for k in node.check_keys]
    assert check.name == DRIFT_CHECK and "backtest" in check.description
    assert node.description and len(node.description) > 80


def test_every_asset_runs_a_partition_range_in_one_run():
    """make run materializes everything over a range of raw_sales partitions with the CLI, which
    needs every selected asset to take a range in a single run."""
    for dataset in ("synthetic", "aus_retail", "store_item_demand"):
        graph = build_definitions(dataset).resolve_asset_graph()
        for key in graph.get_all_asset_keys():
            policy = graph.get(key).backfill_policy
            assert policy is not None and policy.max_partitions_per_run is None, f"{key.to_user_string()} ({dataset})"
