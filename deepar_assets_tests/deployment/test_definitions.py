"""What a deployment reads off the definitions: kinds, owners, code references, the training
pool, and when a forecast is late (the freshness policy, check and sensor)."""

import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from deepar_assets.assets import KINDS, OWNERS
from deepar_assets.assets.forecasting.freshness import FRESHNESS_CHECK_KEY, build_freshness, evaluate, late_hours
from deepar_assets.constants import TRAINING_POOL
from deepar_assets.definitions import build_definitions
from deepar_assets.domain.freshness import forecast_freshness, period_length
from deepar_assets.errors import ConfigurationError

HEAVY = {"tuning_run", "best_model", "combination", "backtest_report"}


def _specs(defs: dg.Definitions) -> dict[str, dg.AssetSpec]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): defs.resolve_assets_def(key).specs_by_key[key] for key in graph.get_all_asset_keys()}


def test_every_asset_declares_its_kinds_and_owners_and_links_to_its_source():
    specs = _specs(build_definitions("synthetic", "manual"))
    assert set(specs) == set(KINDS)
    for name, spec in specs.items():
        assert spec.kinds == KINDS[name] and 1 <= len(spec.kinds) <= 3
        assert spec.owners == OWNERS
        [reference] = spec.metadata["dagster/code_references"].code_references
        source = Path(reference.file_path).read_text().splitlines()
        assert source[reference.line_number - 1].lstrip().startswith("@dg.asset"), (name, reference)


def test_code_references_point_at_the_repository_when_a_git_url_is_set(monkeypatch):
    monkeypatch.setenv("DEEPAR_GIT_URL", "https://github.com/acme/deepar-assets")
    monkeypatch.setenv("DEEPAR_GIT_BRANCH", "release")
    specs = _specs(build_definitions("synthetic", "manual"))
    [reference] = specs["tuning_run"].metadata["dagster/code_references"].code_references
    assert reference.url.startswith(
        "https://github.com/acme/deepar-assets/tree/release/deepar_assets/assets/training.py#L"
    )


def test_only_the_heavy_steps_are_in_the_training_pool():
    defs = build_definitions("synthetic", "manual")
    pools = {
        key.to_user_string(): defs.resolve_assets_def(key).op.pool
        for key in defs.resolve_asset_graph().get_all_asset_keys()
    }
    assert {name for name, pool in pools.items() if pool == TRAINING_POOL} == HEAVY
    assert all(pool is None for name, pool in pools.items() if name not in HEAVY)


@pytest.mark.parametrize(
    "dataset, hours, warn, fail",
    [
        ("synthetic", None, timedelta(days=7), timedelta(days=8)),
        ("walmart", "6", timedelta(days=7), timedelta(days=7, hours=6)),
        ("aus_retail", None, timedelta(days=31), timedelta(days=32)),
        ("store_item_demand", "2.5", timedelta(days=1), timedelta(days=1, hours=2.5)),
    ],
)
def test_forecasts_freshness_policy_follows_the_datasets_period_and_the_late_hours(
    monkeypatch, dataset, hours, warn, fail
):
    if hours is not None:
        monkeypatch.setenv("DEEPAR_FORECAST_LATE_HOURS", hours)
    policy = _specs(build_definitions(dataset, "manual"))["forecasts"].freshness_policy
    assert (policy.warn_window.to_timedelta(), policy.fail_window.to_timedelta()) == (warn, fail)
    assert all(
        spec.freshness_policy is None
        for name, spec in _specs(build_definitions(dataset, "manual")).items()
        if name != "forecasts"
    )


@pytest.mark.parametrize("text", ["0", "-3", "soon", "inf", "nan"])
def test_a_bad_late_hours_setting_is_refused_naming_the_variable(text):
    with pytest.raises(
        ConfigurationError, match=f"DEEPAR_FORECAST_LATE_HOURS={text!r}: expected a positive number of hours"
    ):
        late_hours(text)


def test_period_lengths():
    assert period_length("W-FRI") == timedelta(days=7)
    assert period_length("MS") == timedelta(days=31)
    assert period_length("D") == timedelta(days=1)


def test_a_forecast_is_late_only_when_the_data_waited_longer_than_declared_with_no_forecast_since():
    day = timedelta(hours=24)
    assert forecast_freshness(None, None, None, 1e9, day).passed
    on_time = forecast_freshness(1_000.0, "2012-11-02", 1_000.0 + 1800, 1_000.0 + 90_000, day)
    assert on_time.passed and on_time.description.startswith("on time: the latest forecast was made 0.5 h after")
    due = forecast_freshness(1_000.0, "2012-11-02", 500.0, 1_000.0 + 3 * 3600, day)
    assert due.passed and "has been in for 3.0 h; a forecast is late after 24 h" in due.description
    late = forecast_freshness(1_000.0, "2012-11-02", 500.0, 1_000.0 + 25 * 3600, day)
    assert not late.passed and late.description.startswith(
        "LATE: partition 2012-11-02 has been in for 25.0 h (more than 24 h) and no forecast was made from it"
    )
    assert late.hours_since_data == 25.0


def test_the_sensor_runs_the_check_once_the_newest_data_waited_too_long():
    late_after = 1.0  # second
    _, sensor = build_freshness(late_after / 3600)
    with dg.DagsterInstance.ephemeral() as instance:
        assert isinstance(sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)  # no data yet
        instance.report_runless_asset_event(dg.AssetMaterialization("forecasts"))
        instance.report_runless_asset_event(dg.AssetMaterialization("raw_sales", partition="2012-11-02"))
        skipped = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(skipped, dg.SkipReason) and skipped.skip_message.startswith("due: partition 2012-11-02")
        time.sleep(late_after + 0.2)
        request = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(request, dg.RunRequest)
        assert request.asset_check_keys == [FRESHNESS_CHECK_KEY] and request.run_key.startswith("late-2012-11-02-")
        assert not evaluate(instance, timedelta(seconds=late_after)).passed
        instance.report_runless_asset_event(dg.AssetMaterialization("forecasts"))
        assert evaluate(instance, timedelta(seconds=late_after)).passed
        assert isinstance(sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)
