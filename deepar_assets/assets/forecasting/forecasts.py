"""forecasts: every series' forecast after T, decoded to the spec's ids and attributes."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from pydantic import Field

from deepar_assets.assets.charts import forecast_chart, table
from deepar_assets.assets.forecasting.combination import Combination
from deepar_assets.assets.forecasting.common import (
    FORECAST_GROUP,
    FORECASTS_PREFIX,
    history_periods,
    model_context,
    origin_key,
    put_frame,
)
from deepar_assets.assets.forecasting.gate import require_passing_model
from deepar_assets.domain import accuracy as acc
from deepar_assets.domain import backtest as bt
from deepar_assets.domain import combination as cb
from deepar_assets.domain import forecasting as fc
from deepar_assets.domain.cores import available_cores
from deepar_assets.domain.encoding import EncodedSeries
from deepar_assets.domain.spec import periods
from deepar_assets.engines.base import DatasetRef, RegisteredModel
from deepar_assets.engines.inference import forecaster
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.vintages import publish_vintage


class ForecastConfig(dg.Config):
    chart_series: int = Field(
        default=3,
        description="Series drawn as fan charts beside the total (the largest, the median "
        "one, the largest expected change, …).",
    )
    charthistory_periods: int = Field(
        default=0,
        description="Periods of history drawn before the forecast in the charts "
        "(0: a season or three horizons, whichever is longer).",
    )
    change_rows: int = Field(
        default=10, description="Rows of the table of the largest expected changes vs one season earlier."
    )
    workers: int = Field(default=0, description="Processes fitting the statistical candidates (0: one per core).")


@dataclass
class ForecastSet:
    """What ``forecasts`` publishes: where the files are, and the forecast table itself."""

    model_id: str
    origin: str  # T, the last observed period
    uris: dict[str, str]
    frame: pd.DataFrame = field(repr=False)
    skipped: pd.DataFrame = field(repr=False)


@dg.asset(group_name=FORECAST_GROUP, backfill_policy=dg.BackfillPolicy.single_run())
def forecasts(
    context: dg.AssetExecutionContext,
    config: ForecastConfig,
    best_model: RegisteredModel,
    combination: Combination,
    encoded_series: EncodedSeries,
    s3_datasets: DatasetRef,
    storage: StorageResource,
    training: TrainingResource,
) -> dg.Output[ForecastSet]:
    """For every series, the prediction_length periods after the last observed period T,
    decoded to the spec's ids and categorical attributes, with the mean and the quantiles p10 …
    p90, from the known-ahead features of those periods: `forecasts/<model id>/<T>/forecasts.csv`
    and .parquet. The forecast is the combination asset's: DeepAR's and the statistical
    candidates' (fitted on the history up to T), averaged quantile by quantile with each
    series' weights for the horizon (`weights.csv` beside it says which each series got), or
    DeepAR's own when it is the only candidate. Series the model cannot embed (a category value
    it never saw) are listed, not forecast. Each materialization is also kept as a vintage
    (`vintages/<T>/<model id>/<when>/`), which forecast_accuracy scores once the actuals
    arrive. Refuses what failed the beats_seasonal_naive check on combination."""
    require_passing_model(context, combination)
    ctx = model_context(best_model, s3_datasets, storage, training)
    h, freq = ctx.dataset.prediction_length, encoded_series.spec.frequency
    inputs = fc.forecast_inputs(encoded_series, ctx.encoding, h)
    if not inputs.records:
        reason = inputs.skipped["reason"].iloc[0] if len(inputs.skipped) else "no series"
        raise dg.Failure(
            description=f"model {best_model.model_id} can forecast none of the {encoded_series.n_series} series: {reason}"
        )
    if len(inputs.skipped):
        context.log.warning(
            f"{len(inputs.skipped)} series cannot be forecast by {best_model.model_id}: {inputs.skipped.head(5).to_dict('records')}"
        )
    origin = periods.format_period(inputs.origin, freq)
    context.log.info(
        f"forecasting {len(inputs.records)} series, {h} periods after {origin}, with {best_model.model_id}"
    )
    arrays = forecaster(ctx.engine, best_model, ctx.dataset, log=context.log.info).predict(inputs.records)
    weights, unseen = combination.weights_for(inputs.keys)
    if unseen:
        context.log.warning(
            f"{unseen} series were not in the validation channel the combination asset weighed: DeepAR alone forecasts them"
        )
    used = [name for c, name in enumerate(combination.candidates) if name != bt.DEEPAR and weights[:, c].any()]
    if not combination.deepar_only:  # the combination, even where every weight is on DeepAR (its band scale)
        histories = [
            encoded_series.target[i, int(encoded_series.first[i]) : encoded_series.n_history] for i in inputs.series
        ]
        candidates = {bt.DEEPAR: arrays}
        for name in used:
            fitted = bt.baseline_forecasts(
                histories,
                h,
                name,
                fc.season_of(encoded_series),
                workers=config.workers or available_cores(),
                all_may_fall_back=True,
            )
            if fitted.fallbacks:
                context.log.warning(
                    f"{name} could not fit {len(fitted.fallbacks)} series; seasonal naive stands in for it there: {fitted.reason_counts()}"
                )
            candidates[name] = fitted.forecast
        present = [name for name in combination.candidates if name in candidates]
        columns = [combination.candidates.index(name) for name in present]
        arrays = cb.widen(
            cb.combine(candidates, present, weights[:, columns]), combination.band_scales[cb.HORIZON_TARGET]
        )
        context.log.info(
            f"combined {', '.join(present)} with the combination asset's weights ({combination.levels[cb.HORIZON_TARGET]} level)"
        )
    frame = fc.forecast_frame(inputs.keys, inputs.dates, arrays, fc.time_column(ctx.encoding, encoded_series.spec))
    prefix = f"{FORECASTS_PREFIX}/{best_model.model_id}/{origin_key(inputs.origin, freq)}"
    uris = put_frame(ctx.store, prefix, "forecasts", frame, freq)
    weight_table = inputs.keys.copy()
    for c, name in enumerate(combination.candidates):
        weight_table[f"weight_{name}"] = weights[:, c].round(4)
    uris["weights"] = put_frame(ctx.store, prefix, "weights", weight_table, freq)["csv"]
    if len(inputs.skipped):
        ctx.store.put_bytes(f"{prefix}/skipped.csv", fc.to_csv_bytes(inputs.skipped, freq))
        uris["skipped"] = ctx.store.uri(f"{prefix}/skipped.csv")
    forecast_periods = [periods.format_period(d, freq) for d in inputs.dates]
    recipe = {
        "candidates": combination.candidates,
        "level": combination.levels[cb.HORIZON_TARGET],
        "band_scale": combination.band_scales[cb.HORIZON_TARGET],
        "mean_weights": {name: round(float(weights[:, c].mean()), 4) for c, name in enumerate(combination.candidates)},
        "weights": uris["weights"],
    }
    created = datetime.now(UTC)
    summary = {
        "dataset": encoded_series.spec.name,
        "model_id": best_model.model_id,
        "model_data_version": ctx.dataset.version,
        "data_version": s3_datasets.version,
        "last_observed_period": origin,
        "periods": forecast_periods,
        "series": len(inputs.records),
        "skipped": len(inputs.skipped),
        "columns": list(frame.columns),
        "combination": {
            "candidates": combination.candidates,
            "level": combination.levels[cb.HORIZON_TARGET],
            "band_scale": combination.band_scales[cb.HORIZON_TARGET],
            "mean_weights": {
                name: round(float(weights[:, c].mean()), 4) for c, name in enumerate(combination.candidates)
            },
            "weights": uris["weights"],
        },
        "created": created.isoformat(timespec="seconds"),
    }
    ctx.store.put_bytes(f"{prefix}/summary.json", json.dumps(summary, indent=1).encode())
    # The vintage: this publication kept as it is, for forecast_accuracy (never overwritten).
    vintage = acc.Vintage(
        vintage_id=f"{origin_key(inputs.origin, freq)}/{best_model.model_id}/{created:%Y%m%dT%H%M%SZ}-{context.run_id[:8]}",
        dataset=encoded_series.spec.name,
        model_id=best_model.model_id,
        origin=origin,
        periods=tuple(forecast_periods),
        data_version=s3_datasets.version,
        created=created.isoformat(timespec="seconds"),
    )
    uris["vintage"] = publish_vintage(ctx.store, vintage, frame)
    changes = fc.changes_vs_last_season(encoded_series, inputs.series, inputs.keys, arrays["mean"])
    history = history_periods(config.charthistory_periods, encoded_series, h)
    return dg.Output(
        ForecastSet(best_model.model_id, origin, uris, frame, inputs.skipped),
        metadata={
            "dataset": encoded_series.spec.name,
            "model_id": best_model.model_id,
            "model_data_version": ctx.dataset.version,
            "last_observed_period": origin,
            "forecast_periods": f"{forecast_periods[0]}..{forecast_periods[-1]}",
            "series": len(inputs.records),
            "series_skipped": len(inputs.skipped),
            **({"skipped": table(inputs.skipped, 20, freq)} if len(inputs.skipped) else {}),
            "rows": len(frame),
            "combination": dg.MetadataValue.json(recipe),
            "weights_uri": dg.MetadataValue.path(uris["weights"]),
            "total_forecast_mean": round(float(arrays["mean"].sum()), 2),
            "vintage_id": vintage.vintage_id,
            "vintage_uri": dg.MetadataValue.path(uris["vintage"]),
            "csv_uri": dg.MetadataValue.path(uris["csv"]),
            "parquet_uri": dg.MetadataValue.path(uris["parquet"]),
            "fan_chart": forecast_chart(encoded_series, inputs, arrays, changes, config.chart_series, history),
            "largest_changes_vs_last_season": table(changes, config.change_rows, freq),
        },
    )
