"""When the week's forecast is late: the check ``forecast_is_fresh`` on forecasts, the sensor
that runs it once the newest data has waited too long, and Dagster's freshness policy that the
UI shows on the asset. The rule is a plain function (``domain/freshness.py``)."""

import time
from datetime import timedelta

import dagster as dg

from deepar_assets.automation import RAW_SALES
from deepar_assets.domain.freshness import DEFAULT_LATE_HOURS, forecast_freshness, period_length
from deepar_assets.domain.spec import DatasetSpec
from deepar_assets.errors import ConfigurationError

FORECASTS = dg.AssetKey("forecasts")
FRESHNESS_CHECK = "forecast_is_fresh"
FRESHNESS_CHECK_KEY = dg.AssetCheckKey(FORECASTS, FRESHNESS_CHECK)
FRESHNESS_SENSOR = "forecast_freshness_sensor"
LATE_HOURS_VARIABLE = "DEEPAR_FORECAST_LATE_HOURS"


def late_hours(text: str | None) -> float:
    """$DEEPAR_FORECAST_LATE_HOURS, parsed: hours the newest data may wait for a forecast."""
    if text is None or not text.strip():
        return DEFAULT_LATE_HOURS
    try:
        hours = float(text)
    except ValueError:
        hours = float("nan")
    if not hours > 0 or hours == float("inf"):
        raise ConfigurationError(f"{LATE_HOURS_VARIABLE}={text!r}: expected a positive number of hours")
    return hours


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey) -> tuple[float | None, str | None]:
    event = instance.get_latest_materialization_event(key)
    if event is None:
        return None, None
    partition = event.asset_materialization.partition if event.asset_materialization else None
    return event.timestamp, partition


def evaluate(instance: dg.DagsterInstance, late_after: timedelta, now: float | None = None):
    data_at, partition = _latest(instance, RAW_SALES)
    forecast_at, _ = _latest(instance, FORECASTS)
    return forecast_freshness(data_at, partition, forecast_at, time.time() if now is None else now, late_after)


def freshness_policy(spec: DatasetSpec, hours: float) -> dg.FreshnessPolicy:
    """The UI's freshness of forecasts: warn when none was made for one period of the data,
    fail after a period and the late hours (data arrives once a period)."""
    period = period_length(spec.frequency)
    return dg.FreshnessPolicy.time_window(fail_window=period + timedelta(hours=hours), warn_window=period)


def build_freshness(hours: float) -> tuple[dg.AssetChecksDefinition, dg.SensorDefinition]:
    """The check and the sensor for a forecast that is late after ``hours``."""
    late_after = timedelta(hours=hours)

    @dg.asset_check(
        asset=FORECASTS,
        name=FRESHNESS_CHECK,
        blocking=False,
        description=f"The forecast is late when the newest period of data (raw_sales) has been stored for more than "
        f"{hours:g} h (${LATE_HOURS_VARIABLE}) and no forecast was made since. Runs with forecasts, and from "
        f"{FRESHNESS_SENSOR} when the data has waited too long.",
    )
    def forecast_is_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        verdict = evaluate(context.instance, late_after)
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=verdict.description,
            metadata={"late after (hours)": hours, "hours since the newest data": verdict.hours_since_data},
        )

    @dg.sensor(
        name=FRESHNESS_SENSOR,
        asset_selection=dg.AssetSelection.checks(FRESHNESS_CHECK_KEY),
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Every 5 minutes: runs {FRESHNESS_CHECK} once when the newest data has waited more than {hours:g} h "
        "for a forecast (one run per late partition), so the UI shows the forecast late.",
    )
    def forecast_freshness_sensor(context: dg.SensorEvaluationContext):
        verdict = evaluate(context.instance, late_after)
        if verdict.passed:
            return dg.SkipReason(verdict.description)
        data_at, partition = _latest(context.instance, RAW_SALES)
        return dg.RunRequest(run_key=f"late-{partition}-{data_at}", asset_check_keys=[FRESHNESS_CHECK_KEY])

    return forecast_is_fresh, forecast_freshness_sensor
