"""Automation on a real Dagster instance: which assets the automation conditions request, for
each tuning policy. Materializations are reported to the instance (as external events); what
is evaluated is the conditions of the code location's own definitions."""

from __future__ import annotations

import datetime as dt
import os
import tempfile

import dagster as dg
import pytest

from deepar_assets.assets import pipeline_assets
from deepar_assets.assets.forecasting import DRIFT_CHECK
from deepar_assets.automation import AUTOMATION_SENSOR, TuningPolicy, follows_upstream, with_automation
from deepar_assets.definitions import build_definitions
from deepar_assets.domain.spec import load_spec
from deepar_assets.errors import ConfigurationError
from deepar_assets.sensors.landing import LANDING_SENSOR

WEEKS = ["2012-10-05", "2012-10-12", "2012-10-19", "2012-10-26"]  # partitions of the synthetic spec


def definitions(policy: str, dataset: str = "synthetic") -> dg.Definitions:
    return build_definitions(dataset, policy)


@pytest.fixture
def instance():
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm) as home, dg.instance_for_test(temp_dir=home) as instance:
        yield instance


class Ticks:
    """Successive ticks of the automation sensor over one instance."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance, self.cursor = defs, instance, None

    def __call__(self, at: dt.datetime | None = None) -> set[str]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.cursor, evaluation_time=at
        )
        self.cursor = result.cursor
        return {r.key.to_user_string() for r in result.results if not r.true_subset.is_empty}


def report(instance: dg.DagsterInstance, key: str, partition: str | None = None) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def a_new_partition(instance: dg.DagsterInstance, week: str) -> None:
    """What a landing run and the refresh it triggers leave in the instance."""
    report(instance, "raw_sales", week)
    for key in ("encoded_series", "s3_datasets"):
        report(instance, key)


def load_history(instance: dg.DagsterInstance) -> None:
    for week in WEEKS[:2]:
        report(instance, "raw_sales", week)
    for key in (
        "encoded_series",
        "s3_datasets",
        "tuning_run",
        "best_model",
        "combination",
        "forecasts",
        "forecast_accuracy",
    ):
        report(instance, key)


def drift_check(instance: dg.DagsterInstance, data_version: str, degraded: bool, judged: bool = True) -> None:
    """What forecast_accuracy's drift check leaves in the instance: its verdict on one data version."""
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey("forecast_accuracy"),
            check_name=DRIFT_CHECK,
            passed=not degraded,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"degraded": degraded and judged, "judged": judged, "data_version": data_version},
        )
    )


@pytest.mark.parametrize(
    "text, policy",
    [
        (None, TuningPolicy()),
        ("", TuningPolicy()),
        ("manual", TuningPolicy()),
        ("cron:0 6 * * 1", TuningPolicy("cron", cron="0 6 * * 1")),
        ("partitions:4", TuningPolicy("partitions", partitions=4)),
        ("degraded", TuningPolicy("degraded")),
        (
            "partitions:13 | degraded",
            TuningPolicy("any", parts=(TuningPolicy("partitions", partitions=13), TuningPolicy("degraded"))),
        ),
        (
            "cron:0 6 * * 1,4|degraded",
            TuningPolicy("any", parts=(TuningPolicy("cron", cron="0 6 * * 1,4"), TuningPolicy("degraded"))),
        ),
    ],
)
def test_tuning_policies_are_parsed(text, policy):
    assert TuningPolicy.parse(text) == policy


@pytest.mark.parametrize(
    "text, message",
    [
        ("weekly", r"DEEPAR_TUNING_POLICY='weekly': expected manual, cron:<cron expression, UTC>"),
        ("cron:every monday", r"'every monday' is not a cron expression"),
        ("partitions:0", r"'0' is not a whole number of partitions of 1 or more"),
        ("partitions:two", r"'two' is not a whole number of partitions"),
        ("weeks:4", r"weeks:<N> is now partitions:<N> \(new time partitions of raw_sales"),
        ("manual|degraded", r"manual \(or an empty part\) cannot be joined with another policy"),
        ("degraded|", r"manual \(or an empty part\) cannot be joined"),
        ("degraded|partitions:0", r"DEEPAR_TUNING_POLICY='degraded\|partitions:0': '0' is not a whole number"),
    ],
)
def test_a_bad_tuning_policy_is_refused_saying_what_is_expected(text, message):
    with pytest.raises(ConfigurationError, match=message):
        TuningPolicy.parse(text)


def test_the_policy_comes_from_the_environment_when_the_location_loads(monkeypatch):
    monkeypatch.setenv("DEEPAR_TUNING_POLICY", "cron:0 6 * * 1")
    graph = build_definitions().resolve_asset_graph()
    assert (
        graph.get(dg.AssetKey("tuning_run")).automation_condition.get_label() == "tuning policy: cron 0 6 * * 1 (UTC)"
    )
    monkeypatch.delenv("DEEPAR_TUNING_POLICY")
    assert build_definitions().resolve_asset_graph().get(dg.AssetKey("tuning_run")).automation_condition is None


def test_sensors_are_on_by_default_and_custom_conditions_run_in_the_code_server():
    defs = definitions("manual")
    landing = defs.resolve_sensor_def(LANDING_SENSOR)
    automation = defs.resolve_sensor_def(AUTOMATION_SENSOR)
    assert landing.default_status == automation.default_status == dg.DefaultSensorStatus.RUNNING
    assert landing.minimum_interval_seconds == automation.minimum_interval_seconds == 5
    assert defs.resolve_job_def(landing.job_name).asset_layer.selected_asset_keys == {dg.AssetKey("raw_sales")}
    assert not automation._use_user_code_server  # builtin conditions: evaluated by the daemon
    assert definitions("partitions:4").resolve_sensor_def(AUTOMATION_SENSOR)._use_user_code_server


def test_manual_tuning_new_partitions_refresh_the_data_and_forecasts_and_never_train(instance):
    tick = Ticks(definitions("manual"), instance)
    load_history(instance)
    assert tick() == set()
    report(instance, "raw_sales", WEEKS[2])
    # forecasts follow new data, and forecast_accuracy new actuals
    assert tick() == {"encoded_series", "s3_datasets", "forecasts", "forecast_accuracy"}
    for key in ("encoded_series", "s3_datasets", "forecasts", "forecast_accuracy"):
        report(instance, key)
    assert tick() == set()
    report(instance, "tuning_run")  # a user asked for a tuning run: the best model follows, then forecasts
    assert tick() == {"best_model", "combination", "forecasts", "forecast_accuracy"}
    assert tick() == set()


def test_without_a_model_new_partitions_refresh_the_data_only(instance):
    tick = Ticks(definitions("manual"), instance)
    for week in WEEKS[:2]:
        report(instance, "raw_sales", week)
    for key in ("encoded_series", "s3_datasets"):
        report(instance, key)
    assert tick() == set()
    report(instance, "raw_sales", WEEKS[2])
    assert tick() == {"encoded_series", "s3_datasets"}


def test_a_partition_ingested_while_the_refresh_ran_is_not_lost(instance):
    tick = Ticks(definitions("manual"), instance)
    load_history(instance)
    tick()
    report(instance, "raw_sales", WEEKS[2])
    assert {"encoded_series", "s3_datasets"} <= tick()
    for key in ("encoded_series", "s3_datasets", "forecasts"):  # the refresh completes ...
        report(instance, key)
    report(instance, "raw_sales", WEEKS[3])  # ... and another partition lands before the next tick
    assert {"encoded_series", "s3_datasets"} <= tick()


def test_partitions_policy_tunes_once_enough_new_partitions_were_ingested(instance):
    tick = Ticks(definitions("partitions:2"), instance)
    load_history(instance)
    assert tick() == set()
    a_new_partition(instance, WEEKS[2])
    assert "tuning_run" not in tick()
    a_new_partition(instance, WEEKS[2])  # a restatement of the same partition is not a second new one
    assert "tuning_run" not in tick()
    a_new_partition(instance, WEEKS[3])
    assert {"tuning_run", "best_model"} <= tick()  # the best model joins the tuning run
    report(instance, "tuning_run")
    report(instance, "best_model")
    assert not {"tuning_run", "best_model"} & tick()


def test_cron_policy_tunes_after_new_data_once_per_cron_tick(instance):
    tick = Ticks(definitions("cron:* * * * *"), instance)
    load_history(instance)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    assert "tuning_run" not in tick(start)
    a_new_partition(instance, WEEKS[2])
    updated = instance.fetch_materializations(dg.AssetKey("s3_datasets"), limit=1).records[0].timestamp
    after = dt.datetime.fromtimestamp(updated + 0.001, dt.UTC)
    assert "tuning_run" in tick(after)
    assert "tuning_run" not in tick(after + dt.timedelta(seconds=1))


def test_forecasts_follow_a_new_model_or_new_data_unless_they_say_otherwise():
    @dg.asset(deps=["best_model", "encoded_series"])
    def forecasts(): ...

    @dg.asset(deps=["best_model"], automation_condition=dg.AutomationCondition.on_cron("0 0 * * *"))
    def backtest_report(): ...

    mapped = {
        spec.key.to_user_string(): spec.automation_condition
        for a in with_automation([*pipeline_assets(load_spec("synthetic")), forecasts, backtest_report], TuningPolicy())
        for spec in a.specs
    }
    assert mapped["forecasts"].get_label() == follows_upstream().get_label()
    assert mapped["backtest_report"].get_label() == "on_cron(0 0 * * *, UTC)"
    assert mapped["tuning_run"] is None


def test_a_daily_dataset_refreshes_on_each_new_weekly_partition(instance):
    """store_item_demand: daily data in W-MON partitions; a new week is one new partition."""
    tick = Ticks(definitions("partitions:2", "store_item_demand"), instance)
    for week in ("2017-12-11", "2017-12-18"):
        report(instance, "raw_sales", week)
    for key in ("encoded_series", "s3_datasets", "tuning_run", "best_model", "combination", "forecasts"):
        report(instance, key)
    assert tick() == set()
    a_new_partition(instance, "2017-12-25")
    assert "tuning_run" not in tick()
    a_new_partition(instance, "2018-01-01")
    assert {"tuning_run", "best_model"} <= tick()


def test_degraded_policy_tunes_once_per_data_version_on_which_accuracy_degraded(instance):
    tick = Ticks(definitions("degraded"), instance)
    load_history(instance)
    assert "tuning_run" not in tick()
    drift_check(instance, "v1", degraded=False)
    assert "tuning_run" not in tick()
    drift_check(instance, "v2", degraded=True)
    assert {"tuning_run", "best_model"} <= tick()  # the retrain signal, and the best model joins it
    assert "tuning_run" not in tick()  # once: even though the tuning run has not happened yet
    drift_check(instance, "v2", degraded=True)  # judged again on the same data
    assert "tuning_run" not in tick()
    drift_check(instance, "v3", degraded=True, judged=False)  # no backtest to judge against: no signal
    assert "tuning_run" not in tick()
    report(instance, "tuning_run")
    report(instance, "best_model")
    tick()
    drift_check(instance, "v4", degraded=True)  # new data, degraded again
    assert "tuning_run" in tick()
    assert "tuning_run" not in tick()


def test_a_combined_policy_tunes_on_whichever_comes_first(instance):
    tick = Ticks(definitions("partitions:2|degraded"), instance)
    load_history(instance)
    tick()
    drift_check(instance, "v2", degraded=True)
    assert "tuning_run" in tick()
    report(instance, "tuning_run")
    report(instance, "best_model")
    tick()
    a_new_partition(instance, WEEKS[2])
    assert "tuning_run" not in tick()
    a_new_partition(instance, WEEKS[3])
    assert "tuning_run" in tick()
    label = definitions("partitions:2|degraded").resolve_asset_graph().get(dg.AssetKey("tuning_run"))
    assert label.automation_condition.get_label() == (
        "tuning policy: every 2 new partition(s) | forecast accuracy degraded on new data"
    )
