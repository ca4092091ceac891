"""best_model → forecasts, backtest_report, scenario_forecasts: what planners use, as thin
wiring over the domain functions (domain/forecasting.py, domain/backtest.py) and the engines'
forecasters (engines/inference.py). Also the blocking check on best_model that keeps a model
that loses to seasonal naive from being published.
"""

import json
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from deepar_assets.assets.charts import FanPanel, fan_chart, grouped_bars
from deepar_assets.assets.training import best_model
from deepar_assets.constants import FIELD_CAT, FIELD_DYNAMIC_FEAT, FIELD_START, FIELD_TARGET, VALIDATION
from deepar_assets.domain import backtest as bt
from deepar_assets.domain.encoding import EncodedSeries, Encoding
from deepar_assets.domain.forecasting import (
    KEY_COLUMNS,
    QUANTILE_COLUMNS,
    FeatureChange,
    ForecastInputs,
    Scenario,
    apply_scenario,
    changes_vs_last_year,
    cold_start,
    forecast_frame,
    forecast_inputs,
    representative_series,
    to_csv_bytes,
    to_parquet_bytes,
)
from deepar_assets.engines.base import DatasetRef, RegisteredModel
from deepar_assets.engines.inference import (
    EVALUATED_PREDICTOR,
    Forecaster,
    forecaster,
    model_dataset,
    model_encoding,
    read_channel,
    refit_forecaster,
)
from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.base import ObjectStore

FORECAST_GROUP = "forecasting"
GATE_CHECK = "beats_seasonal_naive"
FORECASTS_PREFIX = "forecasts"
BACKTESTS_PREFIX = "backtests"
SCENARIOS_PREFIX = "scenarios"
SCENARIO_FILE = "scenario.json"


# -- the gate -----------------------------------------------------------------------------------
@dg.asset_check(
    asset=best_model,
    name=GATE_CHECK,
    blocking=True,
    description="The model must beat seasonal naive on the validation window (WMAE, holiday weeks × 5), which no "
    "trial has seen; otherwise nothing downstream (forecasts, backtest_report, scenario_forecasts) publishes it.",
)
def beats_seasonal_naive(
    context: dg.AssetCheckExecutionContext, best_model: RegisteredModel, storage: StorageResource, training: TrainingResource
) -> dg.AssetCheckResult:
    if bt.has_validation_scores(best_model.card):
        outcome = bt.gate(best_model.card)
    else:  # SageMaker scores the test channel only: forecast the validation window now
        store = storage.store()
        outcome = score_validation_window(best_model, store, training.engine(store), context.log.info)
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=outcome.description,
        metadata={**_plain_metadata(outcome.figures), "verdict": dg.MetadataValue.md(f"**{outcome.description}**")},
    )


def score_validation_window(model: RegisteredModel, store: ObjectStore, engine, log) -> bt.GateOutcome:
    """The model and seasonal naive on the validation window, for a model whose card has no
    such scores: the validation channel's histories cut h weeks before T, forecast by the
    engine (a batch transform on SageMaker; the model there was trained on the train channel,
    up to T - 2h, so the window is unseen)."""
    dataset = model_dataset(store, model.card)
    encoding = model_encoding(store, dataset)
    h = dataset.prediction_length
    records = read_channel(store, dataset, VALIDATION)
    log(f"scoring {model.model_id} on the validation window ({len(records)} series, {h} weeks) with the {engine.name} engine")
    deepar = forecaster(engine, model, dataset, which=EVALUATED_PREDICTOR, log=log).predict(records, cut=h)
    window = _window(records, h, encoding, deepar, [])
    scores = window.scores()
    return bt.compare(
        model.model_id,
        scores.loc[bt.DEEPAR].to_dict(),
        scores.loc[bt.SEASONAL_NAIVE].to_dict(),
        f"the validation window (the last {h} weeks, forecast from T - {h})",
    )


def require_passing_model(context: dg.AssetExecutionContext, model: RegisteredModel) -> None:
    """Refuse a model that failed the gate: the check's verdict on this very materialization of
    best_model when the instance has one, else the same rule applied to the model card (a run
    that left the check out, or an older model)."""
    verdict = _check_verdict(context.instance)
    if verdict is not None:
        passed, description = verdict
        if not passed:
            raise dg.Failure(
                description=f"refusing model {model.model_id}: the blocking check {GATE_CHECK} on best_model failed: {description}",
                metadata={"model_id": model.model_id, "check": GATE_CHECK},
            )
        return
    outcome = bt.gate(model.card)
    if not outcome.passed:
        raise dg.Failure(
            description=f"refusing model {model.model_id}: {outcome.description}", metadata=_plain_metadata(outcome.figures)
        )


def _check_verdict(instance: dg.DagsterInstance) -> tuple[bool, str] | None:
    """(passed, description) of the gate check's latest evaluation when it evaluated the latest
    materialization of best_model; None otherwise."""
    key = dg.AssetCheckKey(dg.AssetKey("best_model"), GATE_CHECK)
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])
    record = records.get(key)
    latest = instance.fetch_materializations(dg.AssetKey("best_model"), limit=1).records
    if record is None or record.event is None or not latest or record.event.dagster_event is None:
        return None
    evaluation = record.event.dagster_event.event_specific_data
    target = getattr(evaluation, "target_materialization_data", None)
    if target is None or target.storage_id != latest[0].storage_id or not hasattr(evaluation, "passed"):
        return None
    return bool(evaluation.passed), evaluation.description or ""


def _plain_metadata(figures: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in figures.items():
        if isinstance(value, float) and not math.isfinite(value):
            out[key] = str(value)
        elif isinstance(value, (str, int, float, bool)):
            out[key] = value
        else:
            out[key] = dg.MetadataValue.json(value)
    return out


# -- shared -------------------------------------------------------------------------------------
@dataclass
class ModelContext:
    store: ObjectStore
    engine: Any
    dataset: DatasetRef  # the version the model was trained on
    encoding: Encoding  # ... and its encoding


def _model_context(model: RegisteredModel, s3_datasets: DatasetRef, storage: StorageResource, training: TrainingResource) -> ModelContext:
    store = storage.store()
    dataset = model_dataset(store, model.card, s3_datasets)
    return ModelContext(store, training.engine(store), dataset, model_encoding(store, dataset))


def _table(frame: pd.DataFrame, limit: int | None = None) -> dg.TableMetadataValue:
    """A DataFrame as a metadata table (floats rounded, dates as YYYY-MM-DD)."""
    part = frame if limit is None else frame.head(limit)
    columns = []
    for name, dtype in part.dtypes.items():
        kind = "float" if pd.api.types.is_float_dtype(dtype) else "int" if pd.api.types.is_integer_dtype(dtype) else "string"
        columns.append(dg.TableColumn(str(name), kind))
    records = []
    for row in part.itertuples(index=False):
        values = {}
        for column, value in zip(part.columns, row, strict=True):
            if isinstance(value, (float, np.floating)):
                values[str(column)] = None if not math.isfinite(value) else round(float(value), 4)
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                values[str(column)] = int(value)
            elif isinstance(value, pd.Timestamp):
                values[str(column)] = f"{value:%Y-%m-%d}"
            else:
                values[str(column)] = str(value)
        records.append(dg.TableRecord(values))
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=columns))


def _put_frame(store: ObjectStore, prefix: str, name: str, frame: pd.DataFrame) -> dict[str, str]:
    store.put_bytes(f"{prefix}/{name}.csv", to_csv_bytes(frame))
    store.put_bytes(f"{prefix}/{name}.parquet", to_parquet_bytes(frame))
    return {"csv": store.uri(f"{prefix}/{name}.csv"), "parquet": store.uri(f"{prefix}/{name}.parquet")}


def _history(encoded: EncodedSeries, rows: np.ndarray, weeks: int) -> pd.Series:
    start = max(0, encoded.n_history - weeks)
    values = encoded.target[np.asarray(rows), start : encoded.n_history]
    total = np.nansum(values, axis=0) if values.ndim == 2 else values
    observed = ~np.isnan(values).all(axis=0) if values.ndim == 2 else ~np.isnan(values)
    return pd.Series(np.where(observed, total, np.nan), index=encoded.weeks[start : encoded.n_history])


# -- forecasts ----------------------------------------------------------------------------------
class ForecastConfig(dg.Config):
    chart_series: int = Field(default=3, description="Series drawn as fan charts beside the total (the biggest seller, "
                              "the median one, the largest expected change, …).")
    chart_history_weeks: int = Field(default=52, description="Weeks of history drawn before the forecast in the charts.")
    change_rows: int = Field(default=10, description="Rows of the table of the largest expected changes vs last year.")


@dataclass
class ForecastSet:
    """What ``forecasts`` publishes: where the files are, and the forecast table itself."""

    model_id: str
    origin: str  # T, the last observed week
    uris: dict[str, str]
    frame: pd.DataFrame = field(repr=False)
    skipped: pd.DataFrame = field(repr=False)


@dg.asset(group_name=FORECAST_GROUP, backfill_policy=dg.BackfillPolicy.single_run())
def forecasts(
    context: dg.AssetExecutionContext,
    config: ForecastConfig,
    best_model: RegisteredModel,
    encoded_series: EncodedSeries,
    s3_datasets: DatasetRef,
    storage: StorageResource,
    training: TrainingResource,
) -> dg.Output[ForecastSet]:
    """For every series, the prediction_length weeks after the last observed week, decoded to
    Store and Dept with the mean and the quantiles p10 … p90, from the features known for those
    weeks: forecasts/<model id>/<last week>/forecasts.csv and .parquet. Series the model cannot
    embed (a category value it never saw) are listed, not forecast. Refuses a model that failed
    the beats_seasonal_naive check."""
    require_passing_model(context, best_model)
    ctx = _model_context(best_model, s3_datasets, storage, training)
    h = ctx.dataset.prediction_length
    inputs = forecast_inputs(encoded_series, ctx.encoding, h)
    if not inputs.records:
        raise dg.Failure(
            description=f"model {best_model.model_id} can forecast none of the {encoded_series.n_series} series: "
            f"{inputs.skipped['reason'].iloc[0] if len(inputs.skipped) else 'no series'}"
        )
    if len(inputs.skipped):
        context.log.warning(f"{len(inputs.skipped)} series cannot be forecast by {best_model.model_id}: {inputs.skipped.head(5).to_dict('records')}")
    context.log.info(f"forecasting {len(inputs.records)} series, {h} weeks after {inputs.origin:%Y-%m-%d}, with {best_model.model_id}")
    arrays = forecaster(ctx.engine, best_model, ctx.dataset, log=context.log.info).predict(inputs.records)
    frame = forecast_frame(inputs.keys, inputs.dates, arrays)
    prefix = f"{FORECASTS_PREFIX}/{best_model.model_id}/{inputs.origin:%Y-%m-%d}"
    uris = _put_frame(ctx.store, prefix, "forecasts", frame)
    if len(inputs.skipped):
        ctx.store.put_bytes(f"{prefix}/skipped.csv", to_csv_bytes(inputs.skipped))
        uris["skipped"] = ctx.store.uri(f"{prefix}/skipped.csv")
    summary = {
        "model_id": best_model.model_id,
        "model_data_version": ctx.dataset.version,
        "data_version": s3_datasets.version,
        "last_observed_week": f"{inputs.origin:%Y-%m-%d}",
        "weeks": [f"{d:%Y-%m-%d}" for d in inputs.dates],
        "series": len(inputs.records),
        "skipped": len(inputs.skipped),
        "columns": list(frame.columns),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    ctx.store.put_bytes(f"{prefix}/summary.json", json.dumps(summary, indent=1).encode())

    changes = changes_vs_last_year(encoded_series, inputs.series, inputs.keys, arrays["mean"])
    return dg.Output(
        ForecastSet(best_model.model_id, summary["last_observed_week"], uris, frame, inputs.skipped),
        metadata={
            "model_id": best_model.model_id,
            "model_data_version": ctx.dataset.version,
            "last_observed_week": summary["last_observed_week"],
            "forecast_weeks": f"{inputs.dates[0]:%Y-%m-%d}..{inputs.dates[-1]:%Y-%m-%d}",
            "series": len(inputs.records),
            "series_skipped": len(inputs.skipped),
            **({"skipped": _table(inputs.skipped, 20)} if len(inputs.skipped) else {}),
            "rows": len(frame),
            "total_forecast_mean": round(float(arrays["mean"].sum()), 2),
            "csv_uri": dg.MetadataValue.path(uris["csv"]),
            "parquet_uri": dg.MetadataValue.path(uris["parquet"]),
            "fan_chart": _forecast_chart(encoded_series, inputs, arrays, changes, config),
            "largest_changes_vs_last_year": _table(changes, config.change_rows),
        },
    )


def _forecast_chart(encoded: EncodedSeries, inputs: ForecastInputs, arrays: dict[str, np.ndarray], changes: pd.DataFrame, config: ForecastConfig) -> dg.MarkdownMetadataValue:
    weeks = config.chart_history_weeks
    panels = [
        FanPanel(
            title=f"Total of {len(inputs.records)} series (band: sum of the series' p10 and p90, wider than the total's own)",
            history=_history(encoded, inputs.series, weeks),
            dates=inputs.dates,
            p10=arrays["p10"].sum(axis=0),
            p50=arrays["p50"].sum(axis=0),
            p90=arrays["p90"].sum(axis=0),
            compare=arrays["mean"].sum(axis=0),
            compare_label="mean",
        )
    ]
    for position in representative_series(encoded, inputs.series, config.chart_series, changes):
        key = inputs.keys.iloc[position]
        panels.append(
            FanPanel(
                title=f"Store {key['Store']}, Dept {key['Dept']} (type {key['Type']})",
                history=_history(encoded, inputs.series[position], weeks),
                dates=inputs.dates,
                p10=arrays["p10"][position],
                p50=arrays["p50"][position],
                p90=arrays["p90"][position],
            )
        )
    return fan_chart(panels, f"Forecast after {inputs.origin:%Y-%m-%d}: median and 10–90 % band")


# -- backtest_report ----------------------------------------------------------------------------
class BacktestConfig(dg.Config):
    baselines: list[str] = Field(
        default=["AutoETS", "MSTL"],
        description=f"Statistical baselines besides seasonal naive (always in), from statsforecast: {', '.join(bt.STATISTICAL_BASELINES)} "
        "(AutoETS without a season, MSTL: 52-week season + AutoETS trend, AutoTheta).",
    )
    rolling_origins: int = Field(
        default=1,
        description="Forecast origins: 1 scores the validation window only (the evaluated model, trained to T - h); "
        "more add earlier origins, each with the model's hyperparameters retrained on the history before it (local engine).",
    )
    origin_step: int = Field(default=0, description="Weeks between rolling origins (0: prediction_length).")
    publish_baseline_for_losers: bool = Field(
        default=False,
        description="Also publish the best baseline's forecast of the next prediction_length weeks for exactly the series "
        "where DeepAR loses to it: forecasts/<model id>/<last week>/baseline_for_losers.csv and .parquet.",
    )
    listed_series: int = Field(default=25, description="Rows of the losers and per-department tables in the UI.")
    workers: int = Field(default=0, description="Processes fitting the statistical baselines (0: one per core).")


@dataclass
class BacktestReport:
    model_id: str
    best_baseline: str
    overall: pd.DataFrame
    by_type: pd.DataFrame
    by_dept: pd.DataFrame
    losers: pd.DataFrame
    uris: dict[str, str]


def _window(records: list[dict[str, Any]], h: int, encoding: Encoding, deepar: dict[str, np.ndarray], baselines: list[str], workers: int = 1) -> bt.Window:
    targets = [np.asarray(r[FIELD_TARGET], dtype=np.float64) for r in records]
    histories = bt.window_histories(targets, h)
    holidays = set(encoding.holidays)
    origins, holiday = [], []
    for record, target in zip(records, targets, strict=True):
        start = pd.Timestamp(record[FIELD_START])
        origin = start + pd.Timedelta(weeks=len(target) - h - 1)
        origins.append(f"{origin:%Y-%m-%d}")
        holiday.append([f"{origin + pd.Timedelta(weeks=k + 1):%Y-%m-%d}" in holidays for k in range(h)])
    decoded = [encoding.decode(r[FIELD_CAT]) for r in records]
    forecasts = {bt.DEEPAR: deepar}
    for name in [bt.SEASONAL_NAIVE, *baselines]:
        forecasts[name] = bt.baseline_forecasts(histories, h, name, workers=workers).forecast
    bt.check_forecasts(forecasts, (len(records), h))
    return bt.Window(
        keys=pd.DataFrame({name: [d[name] for d in decoded] for name in KEY_COLUMNS}),
        origins=np.asarray(origins),
        actual=np.stack([t[-h:] for t in targets]),
        holiday=np.asarray(holiday, dtype=bool),
        histories=histories,
        forecasts=forecasts,
    )


def _cut(record: dict[str, Any], weeks: int) -> dict[str, Any]:
    """The record as it was ``weeks`` weeks earlier (target and features both shortened)."""
    if weeks == 0:
        return record
    return {**record, FIELD_TARGET: record[FIELD_TARGET][:-weeks], FIELD_DYNAMIC_FEAT: np.asarray(record[FIELD_DYNAMIC_FEAT])[:, :-weeks]}


@dg.asset(group_name=FORECAST_GROUP, backfill_policy=dg.BackfillPolicy.single_run())
def backtest_report(
    context: dg.AssetExecutionContext,
    config: BacktestConfig,
    best_model: RegisteredModel,
    encoded_series: EncodedSeries,
    s3_datasets: DatasetRef,
    storage: StorageResource,
    training: TrainingResource,
) -> dg.Output[BacktestReport]:
    """The best model against baselines on the validation window (and on rolling origins when
    configured): seasonal naive and statsforecast's models. WMAE (holiday weeks × 5), mean
    wQuantileLoss, RMSE, MASE and the coverage of the 80 % interval, overall, by store type and
    by department, and the series where DeepAR loses to the best baseline (optionally with the
    baseline's forecast published for exactly those series). backtests/<model id>/…"""
    require_passing_model(context, best_model)
    unknown = [b for b in config.baselines if b not in bt.STATISTICAL_BASELINES]
    if unknown:
        raise ConfigurationError(f"backtest_report.baselines: unknown {unknown}; choose from {list(bt.STATISTICAL_BASELINES)}")
    if config.rolling_origins < 1 or config.origin_step < 0:
        raise ConfigurationError(
            f"backtest_report: rolling_origins must be at least 1 and origin_step 0 or more (got {config.rolling_origins}, {config.origin_step})"
        )
    ctx = _model_context(best_model, s3_datasets, storage, training)
    h = ctx.dataset.prediction_length
    step = config.origin_step or h
    validation = read_channel(ctx.store, ctx.dataset, VALIDATION)
    windows = []
    for k in range(config.rolling_origins):
        drop = k * step
        records = [_cut(r, drop) for r in validation if np.count_nonzero(~np.isnan(np.asarray(r[FIELD_TARGET][: len(r[FIELD_TARGET]) - drop - h], dtype=float))) > 0]
        if not records:
            context.log.warning(f"origin {k + 1}: no series has history {drop + h} weeks before T; stopping at {k} origin(s)")
            break
        if k == 0:
            model = forecaster(ctx.engine, best_model, ctx.dataset, which=EVALUATED_PREDICTOR, log=context.log.info)
        else:
            model = refit_forecaster(ctx.engine, best_model, ctx.dataset, [_cut(r, h) for r in records], log=context.log.info)
        deepar = model.predict(records, cut=h)
        window = _window(records, h, ctx.encoding, deepar, list(config.baselines), config.workers or os.cpu_count() or 1)
        context.log.info(f"origin {window.origins[0]}: " + ", ".join(f"{m}={v:.4g}" for m, v in window.scores()[bt.GATE_METRIC].items()))
        windows.append(window)
    window = bt.Window.stack(windows)
    overall = window.scores()
    best = bt.best_baseline(overall)
    by_type = bt.breakdown(window, "Type")
    by_dept = bt.breakdown(window, "Dept")
    losing = bt.losers(window, best)
    prefix = f"{BACKTESTS_PREFIX}/{best_model.model_id}"
    uris = {}
    for name, frame in (("overall", overall.reset_index()), ("by_type", by_type), ("by_dept", by_dept), ("losers", losing)):
        uris[name] = _put_frame(ctx.store, prefix, name, frame)["csv"]
    report = {
        "model_id": best_model.model_id,
        "data_version": ctx.dataset.version,
        "origins": sorted(set(window.origins.tolist())),
        "prediction_length": h,
        "best_baseline": best,
        "gate_metric": bt.GATE_METRIC,
        "overall": json.loads(overall.to_json(orient="index")),
        "losers": len(losing),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    ctx.store.put_bytes(f"{prefix}/report.json", json.dumps(report, indent=1).encode())
    uris["report"] = ctx.store.uri(f"{prefix}/report.json")
    extra: dict[str, Any] = {}
    if config.publish_baseline_for_losers and len(losing):
        published = _publish_baseline(ctx.store, encoded_series, best_model.model_id, best, losing, h, config.workers or os.cpu_count() or 1)
        uris.update({f"baseline_for_losers_{k}": v for k, v in published.items()})
        extra["baseline_for_losers_uri"] = dg.MetadataValue.path(published["csv"])
        context.log.info(f"published {best}'s forecast for the {len(losing)} series where DeepAR loses: {published['csv']}")
    deepar_row, best_row = overall.loc[bt.DEEPAR], overall.loc[best]
    return dg.Output(
        BacktestReport(best_model.model_id, best, overall, by_type, by_dept, losing, uris),
        metadata={
            "model_id": best_model.model_id,
            "origins": dg.MetadataValue.json(report["origins"]),
            "series": int(window.keys[["Store", "Dept"]].drop_duplicates().shape[0]),
            "best_baseline": best,
            f"DeepAR {bt.GATE_METRIC}": float(deepar_row[bt.GATE_METRIC]),
            f"{best} {bt.GATE_METRIC}": float(best_row[bt.GATE_METRIC]),
            "overall": _table(overall.reset_index()),
            "by_store_type": _table(by_type),
            "by_department": _table(by_dept.sort_values("deepar_vs_best_baseline_pct", ascending=False) if "deepar_vs_best_baseline_pct" in by_dept else by_dept, config.listed_series),
            "series_where_deepar_loses": len(losing),
            "losers": _table(losing, config.listed_series),
            "report_uri": dg.MetadataValue.path(uris["report"]),
            "chart": _backtest_chart(window, windows[0], best, by_type),
            **extra,
        },
    )


def _publish_baseline(store: ObjectStore, encoded: EncodedSeries, model_id: str, baseline: str, losing: pd.DataFrame, h: int, workers: int = 1) -> dict[str, str]:
    from deepar_assets.domain.forecasting import forecast_dates, require_future_features

    require_future_features(encoded, h)
    pairs = set(zip(losing["Store"], losing["Dept"], strict=True))
    rows = np.flatnonzero([(s, d) in pairs for s, d in zip(encoded.keys["Store"], encoded.keys["Dept"], strict=True)])
    histories = [encoded.target[i, int(encoded.first[i]) : encoded.n_history] for i in rows]
    result = bt.baseline_forecasts(histories, h, baseline, workers=workers)
    frame = forecast_frame(encoded.keys.iloc[rows][list(KEY_COLUMNS)].reset_index(drop=True), forecast_dates(encoded, h), result.forecast)
    frame.insert(3, "model", baseline)
    prefix = f"{FORECASTS_PREFIX}/{model_id}/{encoded.last_week:%Y-%m-%d}"
    return _put_frame(store, prefix, "baseline_for_losers", frame)


def _backtest_chart(window: bt.Window, first: bt.Window, best: str, by_type: pd.DataFrame) -> dg.MarkdownMetadataValue:
    models = list(window.forecasts)
    origin = pd.Timestamp(str(first.origins[0]))
    h = first.actual.shape[1]
    dates = pd.date_range(origin + pd.Timedelta(weeks=1), periods=h, freq="7D")
    longest = max(len(x) for x in first.histories)
    padded = np.full((len(first.histories), longest), np.nan)
    for i, history in enumerate(first.histories):
        padded[i, longest - len(history) :] = history
    weeks = min(longest, 52)
    history = np.nansum(padded[:, -weeks:], axis=0)
    actual = pd.Series(np.nansum(first.actual, axis=0), index=dates)
    deepar = first.forecasts[bt.DEEPAR]
    panel = FanPanel(
        title=f"Total over the window after {origin:%Y-%m-%d}: DeepAR (band: sum of p10/p90), {best} dashed; actual in grey",
        history=pd.concat([pd.Series(history, index=pd.date_range(end=origin, periods=weeks, freq="7D")), actual]),
        dates=dates,
        p10=deepar["p10"].sum(axis=0),
        p50=deepar["p50"].sum(axis=0),
        p90=deepar["p90"].sum(axis=0),
        compare=first.forecasts[best]["mean"].sum(axis=0),
        compare_label=best,
        label="DeepAR median",
        history_label="actual",
    )
    chart = fan_chart([panel], "Backtest: the validation window")
    bars = by_type.set_index("Type")[[m for m in models if m in by_type.columns]] if len(by_type) else pd.DataFrame()
    if bars.empty:
        return chart
    return dg.MetadataValue.md(chart.value + "\n\n" + grouped_bars(bars, f"{bt.GATE_METRIC} by store type", bt.GATE_METRIC).value)


# -- scenario_forecasts -------------------------------------------------------------------------
class FeatureChangeConfig(dg.Config):
    feature: str = Field(description="A dynamic feature of the model: IsHoliday, Temperature, Fuel_Price, MarkDown1..5, "
                         "AnyMarkDown, CPI, Unemployment.")
    multiply: float | None = Field(default=None, description="Multiply the raw value (e.g. 1.5 for MarkDown1 × 1.5).")
    add: float | None = Field(default=None, description="Add to the raw value (e.g. 5 degrees, 0.2 $/gallon).")
    set_to: float | None = Field(default=None, description="Set the raw value (e.g. IsHoliday: 1 or 0).")


class NewSeriesConfig(dg.Config):
    store: int = Field(description="Store of a (Store, Dept) pair with no history (cold start).")
    dept: int = Field(description="Dept of the pair; both values must have been seen in training.")


class ScenarioConfig(dg.Config):
    name: str = Field(description="The scenario's name: kept under scenarios/<name>/ and run again on every materialization.")
    description: str = Field(default="", description="What the scenario means, for the people reading it.")
    stores: list[int] = Field(default=[], description="Stores changed (empty: all).")
    store_types: list[str] = Field(default=[], description="Store types changed, e.g. [A] (empty: all).")
    depts: list[int] = Field(default=[], description="Departments changed (empty: all).")
    first_week: str | None = Field(default=None, description="First week changed, YYYY-MM-DD (unset: the first forecast week).")
    last_week: str | None = Field(default=None, description="Last week changed, YYYY-MM-DD (unset: the last forecast week).")
    changes: list[FeatureChangeConfig] = Field(default=[], description="Feature changes, applied in order to the selection.")
    new_series: list[NewSeriesConfig] = Field(default=[], description="(Store, Dept) pairs with no history to forecast (cold start).")

    def to_scenario(self) -> Scenario:
        return Scenario(
            name=self.name,
            description=self.description,
            stores=tuple(self.stores),
            store_types=tuple(self.store_types),
            depts=tuple(self.depts),
            first_week=self.first_week,
            last_week=self.last_week,
            changes=tuple(FeatureChange(c.feature, c.multiply, c.add, c.set_to) for c in self.changes),
            new_series=tuple((n.store, n.dept) for n in self.new_series),
        )


class ScenarioForecastsConfig(dg.Config):
    scenarios: list[ScenarioConfig] = Field(
        default=[], description="Scenarios to add (or replace, by name); each is kept and forecast with the current model."
    )
    include_saved: bool = Field(default=True, description="Also forecast every scenario kept from earlier runs.")


@dataclass
class ScenarioResult:
    scenario: Scenario
    frame: pd.DataFrame = field(repr=False)  # per affected series and week: baseline and scenario
    uris: dict[str, str]
    summary: dict[str, Any]


def saved_scenarios(store: ObjectStore) -> dict[str, Scenario]:
    found = {}
    for key in store.list_keys(f"{SCENARIOS_PREFIX}/"):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == SCENARIO_FILE:
            raw = json.loads(store.get_bytes(key))
            found[parts[1]] = Scenario.from_dict(raw)
    return found


def run_scenario(
    scenario: Scenario, encoded: EncodedSeries, inputs: ForecastInputs, encoding: Encoding, model: Forecaster, model_id: str, h: int
) -> pd.DataFrame:
    """Baseline and scenario forecasts of the series the scenario changes, plus its cold-start
    pairs: one row per (series, week) with baseline_mean, the scenario's mean and quantiles, and
    the difference. Both forecasts of a series use the same seed (common random numbers)."""
    scenario.validate(encoding)
    changed_records, changed = apply_scenario(inputs.records, inputs.keys, h, inputs.dates, scenario, encoding, allow_empty=bool(scenario.new_series))
    parts = []
    idx = np.flatnonzero(changed)
    if len(idx):
        base = model.predict([inputs.records[i] for i in idx])
        what_if = model.predict([changed_records[i] for i in idx])
        frame = forecast_frame(inputs.keys.iloc[idx].reset_index(drop=True), inputs.dates, what_if)
        frame.insert(3, "kind", "changed")
        frame.insert(6, "baseline_mean", base["mean"].ravel())
        parts.append(frame)
    for store_value, dept in scenario.new_series:
        if model.batch_size is None:
            raise ConfigurationError(
                f"scenario {scenario.name!r}: cold start batches the new pair with its peers so that DeepAR takes their level; "
                f"the {model.engine_name} engine forecasts each record alone: use the local engine"
            )
        new = cold_start(encoded, inputs, encoding, store_value, dept, h, max_peers=model.batch_size - 1, model=f"model {model_id}")
        keys = pd.DataFrame([{"Store": new.store, "Dept": new.dept, "Type": new.type}])
        records, _ = apply_scenario([new.record], keys, h, inputs.dates, scenario, encoding, allow_empty=True)
        out = model.predict(records + [inputs.records[p] for p in new.peers])
        frame = forecast_frame(keys, inputs.dates, {k: v[:1] for k, v in out.items()})
        frame.insert(3, "kind", f"cold start (peers: {new.peer_rule}, {len(new.peers)} series)")
        frame.insert(6, "baseline_mean", 0.0)
        parts.append(frame)
    if not parts:  # e.g. MarkDown1 × 1.5 in weeks where every markdown is 0
        columns = [*KEY_COLUMNS, "kind", "Date", "horizon", "baseline_mean", "mean", *QUANTILE_COLUMNS]
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns}).assign(difference=pd.Series(dtype=float))
    frame = pd.concat(parts, ignore_index=True)
    frame["difference"] = frame["mean"] - frame["baseline_mean"]
    return frame


@dg.asset(group_name=FORECAST_GROUP, backfill_policy=dg.BackfillPolicy.single_run())
def scenario_forecasts(
    context: dg.AssetExecutionContext,
    config: ScenarioForecastsConfig,
    best_model: RegisteredModel,
    encoded_series: EncodedSeries,
    s3_datasets: DatasetRef,
    storage: StorageResource,
    training: TrainingResource,
) -> dg.Output[dict[str, ScenarioResult]]:
    """What-if forecasts with the current model, without retraining: each named scenario
    changes future features for a selection of series and weeks (MarkDown1 × 1.5 for type A
    stores, a holiday flag on or off, …) and/or adds (Store, Dept) pairs with no history (cold
    start, from their categories and features). Shown against the baseline forecast as a table
    and a chart. Scenarios are kept (scenarios/<name>/scenario.json) and forecast again on every
    materialization; results under scenarios/<name>/<model id>/<last week>/."""
    require_passing_model(context, best_model)
    ctx = _model_context(best_model, s3_datasets, storage, training)
    h = ctx.dataset.prediction_length
    scenarios = saved_scenarios(ctx.store) if config.include_saved else {}
    given = [c.to_scenario() for c in config.scenarios]
    names = [s.name for s in given]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigurationError(f"scenario_forecasts: scenario name(s) {duplicated} given more than once")
    for scenario in given:
        scenario.validate(ctx.encoding)
        scenarios[scenario.name] = scenario
    if not scenarios:
        context.log.info("no scenario: add one in the run config (scenario_forecasts.config.scenarios)")
        return dg.Output({}, metadata={"scenarios": 0, "how": "give scenarios in scenario_forecasts' run config; they are kept"})
    inputs = forecast_inputs(encoded_series, ctx.encoding, h)
    model = forecaster(ctx.engine, best_model, ctx.dataset, log=context.log.info)
    results: dict[str, ScenarioResult] = {}
    for name in sorted(scenarios):
        scenario = scenarios[name]
        frame = run_scenario(scenario, encoded_series, inputs, ctx.encoding, model, best_model.model_id, h)
        ctx.store.put_bytes(f"{SCENARIOS_PREFIX}/{name}/{SCENARIO_FILE}", json.dumps(scenario.to_dict(), indent=1).encode())
        prefix = f"{SCENARIOS_PREFIX}/{name}/{best_model.model_id}/{inputs.origin:%Y-%m-%d}"
        uris = _put_frame(ctx.store, prefix, "forecasts", frame)
        baseline, what_if = float(frame["baseline_mean"].sum()), float(frame["mean"].sum())
        summary = {
            "scenario": name,
            "description": scenario.description,
            "changes": "; ".join(c.describe() for c in scenario.changes) or "-",
            "weeks": f"{scenario.first_week or f'{inputs.dates[0]:%Y-%m-%d}'}..{scenario.last_week or f'{inputs.dates[-1]:%Y-%m-%d}'}",
            "series_changed": int((frame["kind"] == "changed").sum() // h),
            "new_series": len(scenario.new_series),
            "baseline_total": round(baseline, 2),
            "scenario_total": round(what_if, 2),
            "difference": round(what_if - baseline, 2),
            "difference_pct": round(100 * (what_if - baseline) / abs(baseline), 3) if baseline else None,
        }
        results[name] = ScenarioResult(scenario, frame, uris, summary)
        context.log.info(f"scenario {name}: {summary}")
    return dg.Output(
        results,
        metadata={
            "model_id": best_model.model_id,
            "last_observed_week": f"{inputs.origin:%Y-%m-%d}",
            "scenarios": len(results),
            "summary": _table(pd.DataFrame([r.summary for r in results.values()])),
            "largest_differences": _table(_series_differences(results), 20),
            "chart": _scenario_chart(encoded_series, inputs, results),
            "stored_under": dg.MetadataValue.path(ctx.store.uri(SCENARIOS_PREFIX)),
        },
    )


def _series_differences(results: dict[str, ScenarioResult]) -> pd.DataFrame:
    rows = []
    for name, result in results.items():
        grouped = result.frame.groupby(["Store", "Dept", "Type", "kind"], as_index=False)[["baseline_mean", "mean", "difference"]].sum()
        grouped.insert(0, "scenario", name)
        rows.append(grouped)
    frame = pd.concat(rows, ignore_index=True).rename(columns={"mean": "scenario_mean"})
    return frame.reindex(frame["difference"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def _scenario_chart(encoded: EncodedSeries, inputs: ForecastInputs, results: dict[str, ScenarioResult]) -> dg.MarkdownMetadataValue:
    panels = []
    for name, result in list(results.items())[:6]:
        frame = result.frame
        weekly = frame.groupby("Date")[["baseline_mean", "p10", "p50", "p90"]].sum().reindex(inputs.dates)
        changed = frame[frame["kind"] == "changed"][["Store", "Dept"]].drop_duplicates()
        rows = np.flatnonzero(
            encoded.keys.set_index(["Store", "Dept"]).index.isin(pd.MultiIndex.from_frame(changed)) if len(changed) else np.zeros(encoded.n_series, bool)
        )
        history = _history(encoded, rows, 26) if len(rows) else pd.Series(dtype=float)
        panels.append(
            FanPanel(
                title=f"{name}: {result.summary['changes']} ({result.summary['series_changed']} series changed, "
                f"{result.summary['new_series']} new) — difference {result.summary['difference']:+,.0f}",
                history=history,
                dates=inputs.dates,
                p10=weekly["p10"].to_numpy(),
                p50=weekly["p50"].to_numpy(),
                p90=weekly["p90"].to_numpy(),
                compare=weekly["baseline_mean"].to_numpy(),
                compare_label="baseline mean",
                label="scenario median",
            )
        )
    return fan_chart(panels, "Scenarios against the baseline forecast (total of the series each one changes)")


FORECASTING_ASSETS = [forecasts, backtest_report, scenario_forecasts]
FORECASTING_CHECKS = [beats_seasonal_naive]

__all__ = [
    "FORECASTING_ASSETS",
    "FORECASTING_CHECKS",
    "QUANTILE_COLUMNS",
    "backtest_report",
    "beats_seasonal_naive",
    "forecasts",
    "require_passing_model",
    "scenario_forecasts",
]
