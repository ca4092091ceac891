"""A replay through the sensor, with real (small) training: the history without its last 3
weeks, the whole graph on it, then each held-back week dropped into the landing zone, ingested
by the landing sensor's run and followed by what the automation requests. Every forecasts
materialization is a vintage; forecast_accuracy ends with every vintage × period that has
actuals scored, and a drift verdict against the backtest."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from deepar_assets.assets.forecasting import DRIFT_CHECK
from deepar_assets.definitions import build_definitions
from deepar_assets.domain.spec import load_spec
from deepar_assets.replay import Holdout, drop_partitions, hold_out, write_history
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.sensors.landing import build_landing_sensor
from deepar_assets.storage.vintages import list_vintages
from deepar_assets_tests.conftest import materialize_partitions
from deepar_assets_tests.forecasting.conftest import GRAPH, H, metadata, run_config

SPEC = load_spec("synthetic")
WEEKS_HELD = 3
DEFS = build_definitions("synthetic", "manual")  # the automation the daemon would evaluate


@pytest.fixture
def instance():
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm) as home, dg.instance_for_test(temp_dir=home) as instance:
        yield instance


def one_week(holdout: Holdout, week: str) -> Holdout:
    return Holdout(spec=holdout.spec, partitions=[week], tables=holdout.tables)


def test_a_replay_scores_every_vintage_on_the_weeks_that_follow_it(grown_source, tmp_path, instance):
    holdout = hold_out(grown_source, WEEKS_HELD, SPEC)
    history = write_history(holdout, tmp_path / "history")
    source = SalesSource(location=str(history), landing=str(tmp_path / "landing"), landing_settle_seconds=0)
    resources = {
        "source": source,
        "storage": StorageResource(location=str(tmp_path / "storage")),
        "training": TrainingResource(work_dir=str(tmp_path / "work"), study_db=str(tmp_path / "studies.db")),
    }
    weeks = sorted(holdout.history("sales")["Date"].str.strip().unique())
    first = materialize_partitions(
        GRAPH, weeks[0], weeks[-1], resources=resources, run_config=run_config(), instance=instance
    )
    assert first.success
    assert metadata(first, "forecast_accuracy")["vintages"] == 1  # the first vintage: no actuals yet

    [raw_sales] = [a for a in GRAPH if isinstance(a, dg.AssetsDefinition) and dg.AssetKey("raw_sales") in a.keys]
    sensor = build_landing_sensor(SPEC, raw_sales)
    sensor_cursor, automation_cursor = None, None
    automation = dg.evaluate_automation_conditions(defs=DEFS, instance=instance)
    automation_cursor = automation.cursor
    for week in holdout.partitions:
        drop_partitions(one_week(holdout, week), source.landing_zone(), log=lambda _: None)
        result = sensor(dg.build_sensor_context(instance=instance, cursor=sensor_cursor, resources={"source": source}))
        sensor_cursor = result.cursor
        [request] = result.run_requests
        assert request.partition_key == week
        landed = dg.materialize(
            [raw_sales], partition_key=week, tags=request.tags, resources=resources, instance=instance
        )
        assert landed.success
        automation = dg.evaluate_automation_conditions(defs=DEFS, instance=instance, cursor=automation_cursor)
        automation_cursor = automation.cursor
        requested = {r.key for r in automation.results if not r.true_subset.is_empty}
        names = {k.to_user_string() for k in requested}
        assert {"encoded_series", "s3_datasets", "forecasts", "forecast_accuracy"} <= names
        assert "tuning_run" not in names
        followed = dg.materialize(
            GRAPH,
            selection=sorted(requested, key=lambda k: k.to_user_string()),
            resources=resources,
            run_config={"ops": {"s3_datasets": {"config": {"prediction_length": H}}}},
            instance=instance,
        )
        assert followed.success

    store = resources["storage"].store()
    vintages = list_vintages(store)
    origins = [v.origin for v in vintages]
    assert origins == [weeks[-1], *holdout.partitions]  # one vintage per forecast, T moving a week each time
    assert all(v.horizon == H for v in vintages)

    report = metadata(followed, "forecast_accuracy")
    assert report["vintages"] == WEEKS_HELD + 1
    assert report["scored_vintages"] == WEEKS_HELD  # the newest has no actuals yet
    # vintage k (0-based) has WEEKS_HELD - k of its periods observed: 3 + 2 + 1 vintage × periods.
    assert report["vintage_periods_scored"] == WEEKS_HELD * (WEEKS_HELD + 1) // 2
    by_period = pd.read_parquet(Path(tmp_path / "storage" / "accuracy" / "by_period.parquet"))
    got = sorted(zip(by_period["origin"], by_period["Date"].dt.strftime("%Y-%m-%d"), by_period["horizon"], strict=True))
    expected = sorted(
        (origins[k], holdout.partitions[k + step - 1], step)
        for k in range(WEEKS_HELD)
        for step in range(1, WEEKS_HELD - k + 1)
    )
    assert got == expected
    # Every series with a sale in the landed week, in every vintage × period that covers it.
    landed = holdout.tables["sales"].rows
    sold = landed.assign(week=landed["Date"].str.strip()).groupby("week").size()
    assert by_period["points"].tolist() == [int(sold[d]) for d in by_period["Date"].dt.strftime("%Y-%m-%d")]
    # The drift check judged the vintages against the model's backtest.
    check = followed.get_asset_check_evaluations()
    [drift] = [c for c in check if c.check_name == DRIFT_CHECK]
    assert drift.metadata["judged"].value is True
    assert drift.severity == dg.AssetCheckSeverity.WARN
    assert "backtest" in drift.description
    assert "accuracy_over_time" in report and "series_furthest_above_backtest" in report
