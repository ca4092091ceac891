"""backtest_report: the best model against baselines on the validation window and rolling origins."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from deepar_assets.assets.charts import backtest_chart, table
from deepar_assets.assets.forecasting.combination import COMBINED, Combination
from deepar_assets.assets.forecasting.common import (
    BACKTESTS_PREFIX,
    FORECAST_GROUP,
    FORECASTS_PREFIX,
    by_name,
    deepar_windows,
    history_periods,
    model_context,
    origin_key,
    put_frame,
)
from deepar_assets.assets.forecasting.gate import require_passing_model
from deepar_assets.constants import TRAINING_POOL, VALIDATION
from deepar_assets.domain import accuracy as acc
from deepar_assets.domain import backtest as bt
from deepar_assets.domain import combination as cb
from deepar_assets.domain import forecasting as fc
from deepar_assets.domain.cores import available_cores
from deepar_assets.domain.encoding import EncodedSeries
from deepar_assets.engines.base import DatasetRef, RegisteredModel
from deepar_assets.engines.inference import EVALUATED_PREDICTOR, forecaster, read_channel
from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.vintages import EXPECTED_BY_HORIZON, EXPECTED_BY_SERIES


class BacktestConfig(dg.Config):
    baselines: list[str] = Field(
        default=["AutoETS", "MSTL", "AutoTheta"],
        description=f"Statistical baselines besides seasonal naive (always in), from statsforecast: {', '.join(bt.STATISTICAL_BASELINES)} "
        "(AutoETS without a season, MSTL: the spec's season + AutoETS trend, AutoTheta).",
    )
    rolling_origins: int = Field(
        default=1,
        description="Forecast origins: 1 scores the validation window only (the evaluated model, trained to T - h); "
        "more add earlier origins, each with the model's hyperparameters retrained on the history before it (local engine).",
    )
    origin_step: int = Field(default=0, description="Periods between rolling origins (0: prediction_length).")
    publish_baseline_for_losers: bool = Field(
        default=False,
        description="Also publish the best baseline's forecast of the next prediction_length periods for exactly the series "
        "where DeepAR loses to it: forecasts/<model id>/<T>/baseline_for_losers.csv and .parquet.",
    )
    listed_series: int = Field(default=25, description="Rows of the losers and per-id tables in the UI.")
    workers: int = Field(default=0, description="Processes fitting the statistical baselines (0: one per core).")


@dataclass
class BacktestReport:
    model_id: str
    best_baseline: str
    overall: pd.DataFrame
    breakdowns: dict[str, pd.DataFrame]  # column (attribute or id) → scores per value
    losers: pd.DataFrame
    uris: dict[str, str]


@dg.asset(group_name=FORECAST_GROUP, backfill_policy=dg.BackfillPolicy.single_run(), pool=TRAINING_POOL)
def backtest_report(
    context: dg.AssetExecutionContext,
    config: BacktestConfig,
    best_model: RegisteredModel,
    combination: Combination,
    encoded_series: EncodedSeries,
    s3_datasets: DatasetRef,
    storage: StorageResource,
    training: TrainingResource,
) -> dg.Output[BacktestReport]:
    """The best model against baselines on the validation window (and on rolling origins when
    configured): seasonal naive and statsforecast's models, with the spec's season. WMAE (the
    spec's period weights; plain MAE without), mean wQuantileLoss, RMSE, MASE and the coverage
    of the 80 % interval, overall and by every categorical attribute and id column, and the
    series where DeepAR loses to the best baseline (optionally with the baseline's forecast
    published for exactly those series). `backtests/<model id>/`…"""
    require_passing_model(context, combination)
    unknown = [b for b in config.baselines if b not in bt.STATISTICAL_BASELINES]
    if unknown:
        raise ConfigurationError(
            f"backtest_report.baselines: unknown {unknown}; choose from {list(bt.STATISTICAL_BASELINES)}"
        )
    if config.rolling_origins < 1 or config.origin_step < 0:
        raise ConfigurationError(
            f"backtest_report: rolling_origins must be at least 1 and origin_step 0 or more (got {config.rolling_origins}, {config.origin_step})"
        )
    ctx = model_context(best_model, s3_datasets, storage, training)
    h, freq = ctx.dataset.prediction_length, ctx.encoding.freq
    workers = config.workers or available_cores()
    validation = read_channel(ctx.store, ctx.dataset, VALIDATION)
    drops = []
    for k in range(config.rolling_origins):
        drop = k * (config.origin_step or h)
        if not len(cb.rows_at(validation, drop, h)):
            context.log.warning(
                f"origin {k + 1}: no series has history {drop + h} periods before T; stopping at {k} origin(s)"
            )
            break
        drops.append(drop)
    evaluated = forecaster(ctx.engine, best_model, ctx.dataset, which=EVALUATED_PREDICTOR, log=context.log.info)
    deepar_at = deepar_windows(ctx, best_model, context.log, evaluated)
    # Every earlier origin gets a combination of its own, chosen only on the history before it.
    rechosen: dict[int, cb.OriginCombination] = {}
    if len(drops) > 1 and not combination.deepar_only:
        settings = combination.selection_settings
        for rolled in cb.rolling_combinations(
            validation,
            h,
            ctx.encoding,
            combination.candidates,
            deepar_at,
            drops[1:],
            rolling=int(settings.get("rolling", 3)),
            shrinkage=float(settings.get("shrinkage", 2.0)),
            cutoffs=[float(c) for c in settings.get("cutoffs", [settings.get("cutoff", cb.CUTOFFS[0])])],
            workers=workers,
            log=context.log.info,
        ):
            rechosen[rolled.drop] = rolled
    at_origin = {d: bt.origin_records(validation, d, h) for d in drops}
    # DeepAR retrained before every other origin, side by side (those the combination made are kept).
    deepar_at.prefit(
        {d: records for d, records in at_origin.items() if d not in rechosen or bt.DEEPAR not in combination.candidates}
    )
    windows = []
    for drop in drops:
        records = at_origin[drop]
        chosen = rechosen.get(drop)
        if chosen is not None and bt.DEEPAR in combination.candidates:  # DeepAR's forecast there, already made
            deepar = {k: v[chosen.rows] for k, v in chosen.window.forecasts[bt.DEEPAR].items()}
        else:
            deepar = deepar_at(drop)(records)
        fitted = _fitted_before(combination, chosen, drop, len(records), [bt.SEASONAL_NAIVE, *config.baselines])
        if fitted:
            context.log.info(f"origin {drop} periods before T: {', '.join(fitted)} as the combination fitted them")
        window = bt.build_window(records, h, ctx.encoding, deepar, config.baselines, workers, fitted)
        if chosen is not None:
            window.forecasts[COMBINED] = chosen.forecast
        elif drop == 0 and not combination.deepar_only:
            # The published forecast on the validation window: the combination's, on the same rows.
            if len(window.keys) == len(combination.validation_rows):
                window.forecasts[COMBINED] = combination.validation[COMBINED]
            else:
                context.log.warning(
                    f"the combination asset weighed {len(combination.validation_rows)} series on the validation "
                    f"window, this backtest {len(window.keys)}: the combination is not scored here"
                )
        context.log.info(
            f"origin {window.origins[0]}: "
            + ", ".join(f"{m}={v:.4g}" for m, v in window.scores()[bt.GATE_METRIC].items())
        )
        windows.append(window)
    validation_scores = windows[0].scores() if COMBINED in windows[0].forecasts else None
    if any(COMBINED not in w.forecasts for w in windows):  # the origins are stacked: the same models in each
        for w in windows:
            w.forecasts.pop(COMBINED, None)
    window = bt.Window.stack(windows)
    fallbacks = window.fallback_report()
    for name, fell in fallbacks.items():
        context.log.warning(
            f"{name} could not fit every series; seasonal naive stands in for them: {_fallback_text(fell)}"
        )
    overall = window.scores()
    by_origin = bt.by_origin(window)
    selections = _selections(rechosen, windows, drops, combination)
    best = bt.best_baseline(overall.drop(COMBINED, errors="ignore"))
    breakdowns = bt.breakdowns(window)
    losing = bt.losers(window, best)
    prefix = f"{BACKTESTS_PREFIX}/{best_model.model_id}"
    uris = {}
    # What forecast_accuracy expects of this model's published forecasts: DeepAR's scores per
    # horizon step and per series, pooled over the origins.
    points = window.points(bt.DEEPAR)
    expected_by_horizon = acc.by_horizon(points)
    tables = {
        "overall": overall.reset_index(),
        "by_origin": by_origin,
        **({"selections": selections} if len(selections) else {}),
        **{by_name(c): f for c, f in breakdowns.items()},
        "losers": losing,
        EXPECTED_BY_HORIZON: expected_by_horizon,
        EXPECTED_BY_SERIES: acc.series_errors(points, list(window.keys.columns)),
    }
    for name, frame in tables.items():
        uris[name] = put_frame(ctx.store, prefix, name, frame, freq)["csv"]
    report = {
        "model_id": best_model.model_id,
        "data_version": ctx.dataset.version,
        "origins": sorted(set(window.origins.tolist())),
        "prediction_length": h,
        "best_baseline": best,
        "gate_metric": bt.GATE_METRIC,
        "weighting": bt.weighting(ctx.encoding),
        "breakdowns": list(breakdowns),
        "overall": json.loads(overall.to_json(orient="index")),
        "by_origin": json.loads(by_origin.to_json(orient="records")),
        "selections": json.loads(selections.to_json(orient="records")),
        "validation_window_with_combination": json.loads(validation_scores.to_json(orient="index"))
        if validation_scores is not None
        else None,
        "losers": len(losing),
        "baseline_fallbacks": fallbacks,
        "deepar_by_horizon": json.loads(
            expected_by_horizon[["horizon", *acc.ACCURACY_METRICS]].to_json(orient="records")
        ),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    ctx.store.put_bytes(f"{prefix}/report.json", json.dumps(report, indent=1).encode())
    uris["report"] = ctx.store.uri(f"{prefix}/report.json")
    extra: dict[str, Any] = {}
    if config.publish_baseline_for_losers and len(losing):
        published, fell = _publish_baseline(ctx.store, encoded_series, best_model.model_id, best, losing, h, workers)
        if fell:
            context.log.warning(
                f"{best} could not fit {sum(fell.values())} of the {len(losing)} series where DeepAR loses; their rows "
                f"in baseline_for_losers are seasonal naive's, with model seasonal_naive: {fell}"
            )
        uris.update({f"baseline_for_losers_{k}": v for k, v in published.items()})
        extra["baseline_for_losers_uri"] = dg.MetadataValue.path(published["csv"])
        context.log.info(
            f"published {best}'s forecast for the {len(losing)} series where DeepAR loses: {published['csv']}"
        )
    by = {
        by_name(c): table(
            f.sort_values("deepar_vs_best_baseline_pct", ascending=False) if "deepar_vs_best_baseline_pct" in f else f,
            config.listed_series,
            freq,
        )
        for c, f in breakdowns.items()
    }
    history = history_periods(0, encoded_series, h)
    return dg.Output(
        BacktestReport(best_model.model_id, best, overall, breakdowns, losing, uris),
        metadata={
            "model_id": best_model.model_id,
            "origins": dg.MetadataValue.json(report["origins"]),
            "series": window.series,
            "best_baseline": best,
            "weighting": report["weighting"],
            f"DeepAR {bt.GATE_METRIC}": float(overall.loc[bt.DEEPAR, bt.GATE_METRIC]),
            f"{best} {bt.GATE_METRIC}": float(overall.loc[best, bt.GATE_METRIC]),
            "overall": table(overall.reset_index()),
            "by_origin": table(by_origin),
            **({"selections": table(selections)} if len(selections) else {}),
            **(
                {
                    "validation_window_with_combination": table(validation_scores.reset_index()),
                    f"combination {bt.GATE_METRIC}": float(validation_scores.loc[COMBINED, bt.GATE_METRIC]),
                }
                if validation_scores is not None
                else {}
            ),
            **by,
            "deepar_by_horizon": table(expected_by_horizon[["horizon", "points", *acc.ACCURACY_METRICS]]),
            "series_where_deepar_loses": len(losing),
            "baseline_fallbacks": dg.MetadataValue.json(fallbacks),
            "losers": table(losing, config.listed_series, freq),
            "report_uri": dg.MetadataValue.path(uris["report"]),
            "chart": backtest_chart(window, windows[0], best, breakdowns, freq, history),
            **extra,
        },
    )


def _fitted_before(
    combination: Combination, chosen: cb.OriginCombination | None, drop: int, n: int, wanted: list[str]
) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    """The baselines the combination already fitted on this origin's histories (its validation
    window, or the window of an origin it re-chose at), with each row's fallback reason: the
    same fits the backtest would make, row for row."""
    if chosen is not None:
        rows = chosen.rows
        forecasts = {k: {q: v[rows] for q, v in f.items()} for k, f in chosen.window.forecasts.items() if k in wanted}
        reasons = {k: r[rows] for k, r in chosen.window.reasons.items() if k in wanted}
    elif drop == 0 and len(combination.validation_rows) == n:
        forecasts, reasons = combination.validation, getattr(combination, "validation_reasons", {})
    else:
        return {}
    blank = np.full(n, "", dtype=object)
    return {
        name: (forecasts[name], reasons.get(name, blank))
        for name in wanted
        if name in forecasts and (name == bt.SEASONAL_NAIVE or name in reasons)
    }


def _selections(
    rechosen: dict[int, cb.OriginCombination], windows: list[bt.Window], drops: list[int], combination: Combination
) -> pd.DataFrame:
    """How the combination was chosen at each origin: the level, the weights' power and cutoff, the band's scale, the windows
    it was chosen on (periods before the origin's window ends) and the mean weights."""
    rows = []
    for drop, window in zip(drops, windows, strict=True):
        if drop == 0 and not combination.deepar_only:
            level, scale = combination.levels[cb.VALIDATION_TARGET], combination.band_scales[cb.VALIDATION_TARGET]
            # a combination handed over by an older run chose no power or cutoff (as validation_reasons above)
            power = getattr(combination, "powers", {}).get(cb.VALIDATION_TARGET, 2.0)
            cutoff = getattr(combination, "cutoffs", {}).get(cb.VALIDATION_TARGET, cb.CUTOFFS[0])
            weights = combination.weights[cb.VALIDATION_TARGET][combination.validation_rows]
            mean = {name: float(weights[:, c].mean()) for c, name in enumerate(combination.candidates)}
            reason = "the combination asset's choice (the published one)"
        elif drop in rechosen:
            chosen = rechosen[drop]
            choice = chosen.selection.choices[cb.VALIDATION_TARGET]
            level, scale, mean, power = choice.level, choice.band_scale, chosen.mean_weights(), choice.power
            cutoff = choice.cutoff
            target_plan = chosen.selection.plans[cb.VALIDATION_TARGET]
            reason = f"windows {target_plan.drops} (periods before its window ends): {target_plan.reason}"
        else:
            continue
        rows.append(
            {
                "origin": str(window.origins[0]),
                "level": level,
                "band_scale": round(float(scale), 4),
                "loss_power": power,  # weights ∝ 1/loss^loss_power
                "loss_cutoff": cutoff,  # candidates above this multiple of the best loss get none
                **{f"weight_{name}": round(value, 4) for name, value in mean.items()},
                "chosen_on": reason,
            }
        )
    return pd.DataFrame(rows).sort_values("origin", ignore_index=True) if rows else pd.DataFrame(rows)


def _publish_baseline(
    store: ObjectStore,
    encoded: EncodedSeries,
    model_id: str,
    baseline: str,
    losing: pd.DataFrame,
    h: int,
    workers: int = 1,
) -> tuple[dict[str, str], dict[str, int]]:
    """``baseline``'s forecast of the h periods after T for the series in ``losing``: the
    stored tables' URIs, and why ``baseline`` could not fit some series (reason → series;
    their rows are seasonal naive's, and say so in the ``model`` column)."""
    freq, ids = encoded.spec.frequency, encoded.spec.ids
    dates = fc.forecast_dates(encoded, h)
    rows = fc.rows_matching(encoded.keys, losing, ids)
    histories = [encoded.target[i, int(encoded.first[i]) : encoded.n_history] for i in rows]
    result = bt.baseline_forecasts(
        histories, h, baseline, fc.season_of(encoded), workers=workers, all_may_fall_back=True
    )
    keys = encoded.keys.iloc[rows].reset_index(drop=True)
    frame = fc.forecast_frame(keys, dates, result.forecast, encoded.spec.time)
    fell = np.zeros(len(rows), dtype=bool)
    fell[result.fallbacks] = True
    frame.insert(len(keys.columns), "model", np.repeat(np.where(fell, bt.SEASONAL_NAIVE, baseline), h))
    prefix = f"{FORECASTS_PREFIX}/{model_id}/{origin_key(encoded.last_period, freq)}"
    return put_frame(store, prefix, "baseline_for_losers", frame, freq), result.reason_counts()


def _fallback_text(fell: dict[str, Any]) -> str:
    """One model's fallbacks (an entry of :meth:`Window.fallback_report`) in words."""
    reasons = "; ".join(f"{reason} ({count})" for reason, count in fell["reasons"].items())
    return (
        f"{fell['series']} of {fell['of_series']} series, {fell['forecasts']} of {fell['of_forecasts']} forecasts "
        f"(series × origin): {reasons}"
    )
