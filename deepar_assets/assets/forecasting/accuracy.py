"""forecast_accuracy: every published vintage scored on the actuals that followed it, and the
drift check against what the backtest expected (Dagster wiring over ``domain/accuracy`` and
``storage/vintages``)."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from pydantic import Field

from deepar_assets.assets.charts import accuracy_chart, table
from deepar_assets.assets.forecasting.common import BACKTESTS_PREFIX, FORECAST_GROUP, origin_key
from deepar_assets.assets.forecasting.forecasts import forecasts
from deepar_assets.automation import DRIFT_CHECK_KEY
from deepar_assets.domain import accuracy as acc
from deepar_assets.domain import forecasting as fc
from deepar_assets.domain.encoding import EncodedSeries
from deepar_assets.domain.forecasting.keys import attribute_columns, id_columns
from deepar_assets.domain.spec import periods
from deepar_assets.engines.base import DatasetRef
from deepar_assets.resources.storage import StorageResource
from deepar_assets.storage.vintages import list_vintages, read_expectations, score_vintages

ACCURACY_PREFIX = "accuracy"
DRIFT_CHECK = DRIFT_CHECK_KEY.name


class AccuracyConfig(dg.Config):
    recent_periods: int = Field(
        default=4,
        description="The drift check judges the last k target periods that have actuals (all vintages that "
        "forecast them).",
    )
    tolerance: float = Field(
        default=0.25,
        description="The drift check fails when the recent WMAE of a horizon step is worse than the backtest "
        "expected of the same points by more than this fraction (0.25: 25 % worse).",
    )
    chart_horizons: list[int] = Field(
        default_factory=list,
        description="Horizon steps drawn in the accuracy-over-time chart (default: 1, 4 and the prediction length).",
    )
    listed_series: int = Field(
        default=10, description="Rows of the table of series furthest above their backtest error."
    )


@dataclass
class AccuracyReport:
    vintages: int  # published vintages of the dataset
    scored_vintages: int  # ... with at least one period of actuals
    rows: pd.DataFrame = field(repr=False)  # every scored point (latest parts)
    by_horizon: pd.DataFrame = field(repr=False)
    by_period: pd.DataFrame = field(repr=False)
    verdict: acc.DriftVerdict = field(repr=False)
    uris: dict[str, str] = field(default_factory=dict)


@dg.asset(
    group_name=FORECAST_GROUP,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[forecasts],
    check_specs=[
        dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset="forecast_accuracy",
            description="The recent accuracy of published forecasts (the last recent_periods periods) is no worse than "
            "the backtest expected, per horizon step, by more than the tolerance. A WARN: it says which horizon "
            "steps and series groups degraded; DEEPAR_TUNING_POLICY=degraded retrains on it.",
        )
    ],
)
def forecast_accuracy(
    context: dg.AssetExecutionContext,
    config: AccuracyConfig,
    encoded_series: EncodedSeries,
    s3_datasets: DatasetRef,
    storage: StorageResource,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Each vintage (each materialization of forecasts) scored on the actuals of its periods as
    they arrive: per horizon step, period and series, WMAE (the spec's period weights; plain MAE
    without), mean wQuantileLoss, bias ((forecast − actual) / actual, summed) and the coverage
    of the 10–90 % band, beside what the model's backtest expected. Scores are kept as Parquet
    parts, one per vintage × period, never rewritten (accuracy/scores/…); a restated period is
    scored again in a new part."""
    store = storage.store()
    spec, encoding = encoded_series.spec, encoded_series.encoding
    freq = encoding.freq
    time = fc.time_column(encoding, spec)
    ids = id_columns(encoding)
    keys = list(encoded_series.keys.columns)
    history = encoded_series.periods[: encoded_series.n_history]
    vintages = [v for v in list_vintages(store) if v.dataset == spec.name]

    def actuals_for(wanted: list[pd.Timestamp]) -> pd.DataFrame:
        return acc.actuals_frame(
            encoded_series.keys, history, encoded_series.target, wanted, time, encoded_series.weights
        )

    update = score_vintages(store, vintages, actuals_for, ids, time, lambda t: origin_key(t, freq))
    rows = update.rows
    if update.restated:
        context.log.warning(
            f"actuals changed for {len(update.restated)} vintage × period(s) already scored; scored again in new parts: "
            + ", ".join(f"{p.vintage_id} {p.period}" for p in update.restated[:10])
        )
    models = sorted(rows["model_id"].unique()) if len(rows) else []
    expectations = read_expectations(store, BACKTESTS_PREFIX, models)
    if expectations.missing:
        context.log.warning(
            f"no backtest for model(s) {expectations.missing}: their vintages are scored but not compared; "
            "materialize backtest_report with them"
        )
    rule = acc.DriftRule(config.tolerance, config.recent_periods)
    groups = [*attribute_columns(encoding), *ids]
    verdict = acc.drift_verdict(rows, expectations.by_horizon, expectations.by_series, time, keys, groups, rule)
    vintage_columns = ["vintage_id", "model_id", "origin"]
    if len(rows):
        by_horizon = acc.compare_by_horizon(rows, expectations.by_horizon)
        by_period = acc.by_period(rows, vintage_columns, time)
        series = acc.series_above_expectation(rows, expectations.by_series, time, keys, rule)
    else:
        by_horizon = by_period = series = pd.DataFrame()
    h = max((v.horizon for v in vintages), default=0)
    chart_steps = config.chart_horizons or sorted({s for s in (1, 4, h) if 1 <= s <= max(h, 1)})
    latest_model = vintages[-1].model_id if vintages else None
    expected = expectations.by_horizon[expectations.by_horizon["model_id"] == latest_model]
    expected_wmae = {int(r.horizon): float(r.WMAE) for r in expected.itertuples()}
    uris = {}
    for name, frame in {"by_period": by_period, "by_horizon": by_horizon, "series": series}.items():
        key = f"{ACCURACY_PREFIX}/{name}.parquet"
        store.put_bytes(key, fc.to_parquet_bytes(frame))
        uris[name] = store.uri(key)
    summary = {
        "dataset": spec.name,
        "data_version": s3_datasets.version,
        "last_observed_period": periods.format_period(encoded_series.last_period, freq),
        "vintages": [v.vintage_id for v in vintages],
        "scored_vintage_periods": int(len(by_period)),
        "drift": {
            "passed": verdict.passed,
            "judged": verdict.judged,
            "description": verdict.description,
            "recent_periods": verdict.recent_periods,
            "degraded_horizons": verdict.degraded_horizons,
            "tolerance": rule.tolerance,
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store.put_bytes(f"{ACCURACY_PREFIX}/summary.json", json.dumps(summary, indent=1).encode())
    uris["summary"] = store.uri(f"{ACCURACY_PREFIX}/summary.json")
    scored = int(rows["vintage_id"].nunique()) if len(rows) else 0
    metadata: dict = {
        "dataset": spec.name,
        "vintages": len(vintages),
        "scored_vintages": scored,
        "vintage_periods_scored": int(len(by_period)),
        "parts_written": len(update.written),
        "parts_restated": len(update.restated),
        "drift_verdict": dg.MetadataValue.md(f"**{verdict.description}**"),
        "summary_uri": dg.MetadataValue.path(uris["summary"]),
    }
    if len(rows):
        overall = acc.summarize(rows)
        metadata.update({f"overall {k}": round(v, 6) for k, v in overall.items() if pd.notna(v)})
        metadata["by_horizon_vs_backtest"] = table(by_horizon)
        metadata["by_vintage_and_period"] = table(
            by_period[[*vintage_columns, time, "horizon", "points", *acc.ACCURACY_METRICS]], 200, freq
        )
        metadata["series_furthest_above_backtest"] = table(series, config.listed_series, freq)
        metadata["accuracy_over_time"] = accuracy_chart(
            by_period,
            time,
            chart_steps,
            expected_wmae,
            f"{spec.name}: WMAE by target period, horizons {chart_steps}",
            freq,
        )
    if len(verdict.horizons):
        metadata["recent_vs_backtest_by_horizon"] = table(verdict.horizons)
    context.log.info(f"{scored} of {len(vintages)} vintage(s) scored; {verdict.description}")
    yield dg.Output(
        AccuracyReport(len(vintages), scored, rows, by_horizon, by_period, verdict, uris), metadata=metadata
    )
    check_metadata: dict = {
        "degraded": verdict.degraded,
        "judged": verdict.judged,
        "data_version": s3_datasets.version,
        "recent_periods": dg.MetadataValue.json(verdict.recent_periods),
        "degraded_horizons": dg.MetadataValue.json(verdict.degraded_horizons),
        "tolerance": rule.tolerance,
    }
    if verdict.unexpected_points:
        check_metadata["points_without_backtest"] = verdict.unexpected_points
    if len(verdict.horizons):
        check_metadata["by_horizon"] = table(verdict.horizons)
    if len(verdict.groups):
        check_metadata["degraded_groups"] = table(verdict.groups, 20)
    yield dg.AssetCheckResult(
        check_name=DRIFT_CHECK,
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=verdict.description,
        metadata=check_metadata,
    )
