"""When assets run by themselves: declarative automation conditions, the tuning policy, and the
sensor that evaluates them (Dagster wiring; definitions.py picks the policy).

- ``encoded_series`` follows new partitions of ``raw_sales`` (the spec's time partitions) and
  ``s3_datasets`` follows ``encoded_series``: both are cheap, so each new (or restated)
  partition refreshes them.
- ``tuning_run`` is expensive: by default it runs only when asked. ``DEEPAR_TUNING_POLICY``
  can give it a schedule (``cron:0 6 * * 1``: once per cron tick, after new data), a count of
  new partitions (``partitions:4``: once four partitions were ingested since the last tuning
  run), a retrain signal (``degraded``: once per data version on which forecast_accuracy's
  drift check found the published forecasts degraded), or several of these joined by ``|``
  (``partitions:13|degraded``: whichever comes first).
- ``best_model`` follows a new tuning run; ``combination`` follows a new model (it
  depends on nothing else); forecasts follow a new model or new data;
  forecast_accuracy follows new actuals (and new forecasts).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import dagster as dg

from deepar_assets.errors import ConfigurationError

RAW_SALES = dg.AssetKey("raw_sales")
TUNING_RUN = dg.AssetKey("tuning_run")
FORECAST_ACCURACY = dg.AssetKey("forecast_accuracy")
DRIFT_CHECK_KEY = dg.AssetCheckKey(FORECAST_ACCURACY, "accuracy_within_backtest")
FOLLOWERS = (dg.AssetKey("combination"), dg.AssetKey("forecasts"), FORECAST_ACCURACY)
"""Assets that, when defined without an automation condition of their own, follow upstream."""
AUTOMATION_SENSOR = "deepar_automation"
POLICY_VARIABLE = "DEEPAR_TUNING_POLICY"


def follows_new_partitions() -> dg.AutomationCondition:
    """For an asset built from every stored partition of ``raw_sales``: requested once
    partitions were materialized (any of them) since it was last requested, and none is still
    being written.

    Not ``eager()``: it waits while any dependency is missing, and the time partitions of
    ``raw_sales`` run up to the current period, far past the data. And not
    ``since_last_handled()``: Dagster compares the times of a trigger and a reset that fire in
    the same tick only when neither is wrapped in ``&``/``|``, so there a partition ingested
    while the previous refresh ran is dropped when that refresh completes in the same tick.
    Here the trigger is ``newly_updated`` alone and the reset ``newly_requested`` alone, so it
    is kept. (A run that materializes partitions and this asset together, ``make run``, is
    followed by one more cheap refresh.)"""
    new_partitions = (
        dg.AutomationCondition.any_deps_match(dg.AutomationCondition.newly_updated())
        .since(dg.AutomationCondition.newly_requested())
        .with_label("partitions updated since last requested")
    )
    return (
        new_partitions & ~dg.AutomationCondition.any_deps_in_progress() & ~dg.AutomationCondition.in_progress()
    ).with_label("follows_new_partitions")


def follows_upstream() -> dg.AutomationCondition:
    """Requested when a dependency was updated (``eager()``), or will be requested in the same
    tick: then both run together, even if this asset was handled in the same tick too (where
    ``eager()``'s ``since_last_handled`` would wait for the next one)."""
    joins = (
        dg.AutomationCondition.any_deps_match(dg.AutomationCondition.will_be_requested())
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.in_progress()
    )
    return (dg.AutomationCondition.eager() | joins.with_label("joins_requested_dependencies")).with_label(
        "follows_upstream"
    )


class NewPartitionsSinceLastRun(dg.AutomationCondition):
    """True when at least ``partitions`` distinct partitions of ``source`` (the raw data's time
    partitions) were materialized after the target's latest materialization (ever, when it has
    none)."""

    def __init__(self, partitions: int, source: dg.AssetKey = RAW_SALES):
        self.partitions = partitions
        self.source = source

    @property
    def name(self) -> str:
        return f"new_partitions_since_last_run({self.partitions})"

    @property
    def description(self) -> str:
        return f"at least {self.partitions} partition(s) of {self.source.to_user_string()} ingested since the last run"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        count = new_partitions_since(context.asset_graph_view.instance, context.key, self.source, self.partitions)
        true_subset = context.candidate_subset if count >= self.partitions else context.get_empty_subset()
        return dg.AutomationResult(context=context, true_subset=true_subset)


def new_partitions_since(instance: dg.DagsterInstance, target: dg.AssetKey, source: dg.AssetKey, enough: int) -> int:
    """Distinct partitions of ``source`` materialized after ``target``'s latest materialization,
    counted up to ``enough``."""
    latest = instance.fetch_materializations(target, limit=1).records
    after = latest[0].storage_id if latest else None
    partitions: set[str] = set()
    cursor = None
    while len(partitions) < enough:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=source, after_storage_id=after), limit=500, cursor=cursor, ascending=True
        )
        partitions.update(record.partition_key for record in page.records if record.partition_key)
        if not page.has_more:
            break
        cursor = page.cursor
    return len(partitions)


class DegradedOnNewData(dg.AutomationCondition):
    """True when the latest evaluation of forecast_accuracy's drift check found the forecasts
    degraded (its metadata says ``degraded``: judged against a backtest, and failed) on a data
    version this condition has not fired for yet. The data versions it fired for are kept in its
    cursor, so a failing check requests ``tuning_run`` once per data version, whatever that run's
    outcome; the next degraded verdict on new data requests it again."""

    def __init__(self, check: dg.AssetCheckKey = DRIFT_CHECK_KEY):
        self.check = check

    @property
    def name(self) -> str:
        return "degraded_on_new_data"

    @property
    def description(self) -> str:
        return f"{self.check.to_user_string()} found the forecasts degraded on a data version not yet handled"

    @property
    def requires_cursor(self) -> bool:
        return True

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        handled = context.cursor or ""
        if context.candidate_subset.is_empty:
            return dg.AutomationResult(context=context, true_subset=context.get_empty_subset(), cursor=handled)
        version = degraded_data_version(context.asset_graph_view.instance, self.check)
        if version is None or version == handled:
            return dg.AutomationResult(context=context, true_subset=context.get_empty_subset(), cursor=handled)
        return dg.AutomationResult(context=context, true_subset=context.candidate_subset, cursor=version)


def latest_check_evaluation(instance: dg.DagsterInstance, check: dg.AssetCheckKey):
    """The check's latest evaluation (Dagster's AssetCheckEvaluation: passed, metadata, the
    materialization it evaluated), or None when it never ran or is only planned."""
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([check]).get(check)
    if record is None or record.event is None or record.event.dagster_event is None:
        return None
    event = record.event.dagster_event
    if event.event_type_value != "ASSET_CHECK_EVALUATION":  # planned, not evaluated yet
        return None
    return event.asset_check_evaluation_data


def degraded_data_version(instance: dg.DagsterInstance, check: dg.AssetCheckKey = DRIFT_CHECK_KEY) -> str | None:
    """The data version of the check's latest evaluation when it found the forecasts degraded;
    None when it passed, could not judge, or never ran."""
    evaluation = latest_check_evaluation(instance, check)
    if evaluation is None:
        return None
    metadata = evaluation.metadata
    degraded = metadata.get("degraded")
    version = metadata.get("data_version")
    if evaluation.passed or degraded is None or not degraded.value or version is None:
        return None
    return str(version.value)


@dataclass(frozen=True)
class TuningPolicy:
    """When ``tuning_run`` runs without being asked: never (``manual``), on a cron schedule
    after new data (``cron``), once enough new partitions arrived (``partitions``), once per
    data version on which the published forecasts degraded (``degraded``), or whichever of
    several comes first (``any``, with ``parts``)."""

    kind: Literal["manual", "cron", "partitions", "degraded", "any"] = "manual"
    cron: str | None = None
    partitions: int | None = None
    parts: tuple[TuningPolicy, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> TuningPolicy:
        """``manual`` (or empty), ``cron:<cron expression>`` (UTC), ``partitions:<N>``,
        ``degraded``, or several of the last three joined by ``|``."""
        value = (text or "").strip()
        if "|" in value:
            parts = tuple(cls._parse_one(part.strip(), value) for part in value.split("|"))
            if any(p.kind == "manual" for p in parts):
                raise ConfigurationError(
                    f"{POLICY_VARIABLE}={value!r}: manual (or an empty part) cannot be joined with another policy; "
                    f"{cls._expected()}"
                )
            return cls(kind="any", parts=parts)
        return cls._parse_one(value, value)

    @staticmethod
    def _expected() -> str:
        return (
            "expected manual, cron:<cron expression, UTC> (e.g. cron:0 6 * * 1), partitions:<N> (e.g. "
            "partitions:4, once 4 new partitions of raw_sales were ingested), degraded (once per data version on "
            "which forecast_accuracy's drift check failed), or several joined by | (e.g. partitions:13|degraded); "
            f"set {POLICY_VARIABLE} (README: Automation)"
        )

    @classmethod
    def _parse_one(cls, value: str, whole: str) -> TuningPolicy:
        expected = cls._expected()
        if value in ("", "manual"):
            return cls()
        if value == "degraded":
            return cls(kind="degraded")
        kind, _, argument = value.partition(":")
        argument = argument.strip()
        if kind == "cron" and argument:
            try:
                dg.AutomationCondition.on_cron(argument)
            except Exception as exc:  # dagster's check error: an invalid cron expression
                raise ConfigurationError(
                    f"{POLICY_VARIABLE}={whole!r}: {argument!r} is not a cron expression ({exc}); {expected}"
                ) from None
            return cls(kind="cron", cron=argument)
        if kind == "partitions":
            if not argument.isdigit() or int(argument) < 1:
                raise ConfigurationError(
                    f"{POLICY_VARIABLE}={whole!r}: {argument!r} is not a whole number of partitions of 1 or more; "
                    f"{expected}"
                )
            return cls(kind="partitions", partitions=int(argument))
        if kind == "weeks":  # its former name, from when every dataset was weekly
            raise ConfigurationError(
                f"{POLICY_VARIABLE}={whole!r}: weeks:<N> is now partitions:<N> (new time partitions of raw_sales, "
                f"whatever the dataset's frequency); {expected}"
            )
        raise ConfigurationError(f"{POLICY_VARIABLE}={whole!r}: {expected}")

    def condition(self) -> dg.AutomationCondition | None:
        if self.kind == "any":
            conditions = [c for c in (p.condition() for p in self.parts) if c is not None]
            combined = conditions[0]
            for other in conditions[1:]:
                combined = combined | other
            # ``|`` makes a builtin Or condition, which has with_label; Dagster types it as the base class.
            return combined.with_label(f"tuning policy: {self.label()}")  # type: ignore[attr-defined]
        if self.kind == "cron" and self.cron is not None:
            return dg.AutomationCondition.on_cron(self.cron).with_label(f"tuning policy: {self.label()}")
        if self.kind == "partitions" and self.partitions is not None:
            # Dagster types since_last_handled's self as a condition on assets or checks; this one is
            # on assets, which it takes at run time.
            return (
                (
                    dg.AutomationCondition.any_deps_updated() & NewPartitionsSinceLastRun(self.partitions)
                ).since_last_handled()  # type: ignore[misc]
                & ~dg.AutomationCondition.any_deps_missing()
                & ~dg.AutomationCondition.any_deps_in_progress()
                & ~dg.AutomationCondition.in_progress()
            ).with_label(f"tuning policy: {self.label()}")
        if self.kind == "degraded":
            # The guards first: an And hands its later parts only what passed the earlier ones, so
            # a verdict seen while tuning_run is in progress is kept for when it is not.
            return (
                ~dg.AutomationCondition.in_progress()
                & ~dg.AutomationCondition.any_deps_in_progress()
                & ~dg.AutomationCondition.any_deps_missing()
                & DegradedOnNewData()
            ).with_label(f"tuning policy: {self.label()}")
        return None

    def label(self) -> str:
        if self.kind == "cron":
            return f"cron {self.cron} (UTC)"
        if self.kind == "partitions":
            return f"every {self.partitions} new partition(s)"
        if self.kind == "degraded":
            return "forecast accuracy degraded on new data"
        if self.kind == "any":
            return " | ".join(p.label() for p in self.parts)
        return "manual"


def with_automation(assets: Sequence[dg.AssetsDefinition], policy: TuningPolicy) -> list[dg.AssetsDefinition]:
    """The assets with the tuning policy on ``tuning_run``, and ``follows_upstream`` on the
    followers (forecasts) that have no condition of their own."""

    def mapped(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.key == TUNING_RUN:
            return spec.replace_attributes(automation_condition=policy.condition())
        if spec.key in FOLLOWERS and spec.automation_condition is None:
            return spec.replace_attributes(automation_condition=follows_upstream())
        return spec

    keys = {TUNING_RUN, *FOLLOWERS}
    return [
        a.map_asset_specs(mapped) if isinstance(a, dg.AssetsDefinition) and keys & set(a.keys) else a for a in assets
    ]


def automation_sensor(assets: Sequence[dg.AssetsDefinition]) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's automation condition every 5 seconds; on by default. Conditions
    with Python of their own (the ``partitions`` policy) are evaluated in the code server."""
    custom = any(
        spec.automation_condition is not None and not spec.automation_condition.is_serializable
        for a in assets
        if isinstance(a, dg.AssetsDefinition)
        for spec in a.specs
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # use_user_code_server is beta in dagster 1.13
        return dg.AutomationConditionSensorDefinition(
            AUTOMATION_SENSOR,
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=5,
            use_user_code_server=custom,
            description="Declarative automation of deepar-assets: encoded_series and s3_datasets follow new partitions "
            "of raw_sales, "
            f"tuning_run follows its policy ({POLICY_VARIABLE}), best_model follows tuning_run.",
        )
