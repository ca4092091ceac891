"""combination: DeepAR and statistical candidates combined per series, segment or
globally, the weights chosen only on windows before the validation window; and the blocking
gate that publishes the combination only if it beats seasonal naive there."""

from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from deepar_assets.assets.charts import plain_metadata, table
from deepar_assets.assets.forecasting.common import FORECAST_GROUP, ModelContext, deepar_windows, put_frame
from deepar_assets.constants import TRAINING_POOL, VALIDATION
from deepar_assets.domain import backtest as bt
from deepar_assets.domain import combination as cb
from deepar_assets.domain.cores import available_cores
from deepar_assets.domain.forecasting.keys import id_columns
from deepar_assets.engines.base import RegisteredModel
from deepar_assets.engines.inference import (
    EVALUATED_PREDICTOR,
    forecaster,
    model_dataset,
    model_encoding,
    read_channel,
)
from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource

COMBINATION_ASSET = "combination"
COMBINATIONS_PREFIX = "combinations"
COMBINED = "combination"
GATE_CHECK = "beats_seasonal_naive"


class CombinationConfig(dg.Config):
    candidates: list[str] = Field(
        default=[bt.DEEPAR, bt.SEASONAL_NAIVE, "MSTL", "AutoETS", "AutoTheta"],
        description=f"What the published forecast combines, from {', '.join(cb.CANDIDATES)}. [{bt.DEEPAR}] alone "
        "publishes DeepAR's own forecast (no selection, the gate scores DeepAR).",
    )
    rolling_windows: int = Field(
        default=3,
        description="Past windows of prediction_length periods, ending at T - h and every h before it, on which every "
        "candidate is fitted before the window and scored; the same window a season earlier is added when the target "
        "holds declared special periods (the spec's weights) that none of them holds.",
    )
    shrinkage: float = Field(
        default=2.0, description="How many windows' worth the global weights count when a series or segment is weighed."
    )
    cutoffs: list[float] = Field(
        default=list(cb.CUTOFFS),
        description="A candidate whose loss is above the cutoff times the best one's gets no weight; the cutoff is "
        "chosen from these on the windows left out, with the level and the weights' power.",
    )
    workers: int = Field(default=0, description="Processes fitting the statistical candidates (0: one per core).")


@dataclass
class Combination:
    """What the combination asset decided, for forecasts and backtest_report."""

    model_id: str
    candidates: list[str]
    keys: pd.DataFrame  # the validation channel's series: id columns, one row per row of the weights
    weights: dict[str, np.ndarray]  # target (validation, horizon) → (series, candidates)
    levels: dict[str, str]
    band_scales: dict[str, float]  # target → the combined band's calibrated width (1: as averaged)
    validation_rows: np.ndarray  # rows of keys forecast on the validation window
    validation: dict[str, dict[str, np.ndarray]] = field(repr=False)  # model → mean/quantiles on those rows
    scores: pd.DataFrame = field(repr=False)  # validation scores per model, the combination included
    gate: bt.GateOutcome | None = None
    uris: dict[str, str] = field(default_factory=dict)
    # how the weights were chosen (rolling_windows, shrinkage, cutoffs): a rolling backtest re-chooses them so
    selection_settings: dict[str, Any] = field(default_factory=dict)
    powers: dict[str, float] = field(default_factory=dict)  # target → weights ∝ 1/loss^power (chosen on the windows)
    # statistical candidate → on validation_rows, why its forecast there is seasonal naive's ("" where its own)
    validation_reasons: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    cutoffs: dict[str, float] = field(default_factory=dict)  # target → the cutoff chosen on the windows

    @property
    def deepar_only(self) -> bool:
        return self.candidates == [bt.DEEPAR]

    def weights_for(self, wanted: pd.DataFrame, target: str = cb.HORIZON_TARGET) -> tuple[np.ndarray, int]:
        """(rows of ``wanted``, candidates) weights matched on the id columns; a series the
        selection did not see takes DeepAR alone (or the first candidate). Also how many did."""
        ids = list(self.keys.columns)
        index = pd.MultiIndex.from_frame(self.keys[ids].astype(object))
        positions = index.get_indexer(pd.MultiIndex.from_frame(wanted[ids].astype(object)))
        fallback = np.zeros(len(self.candidates))
        fallback[self.candidates.index(bt.DEEPAR) if bt.DEEPAR in self.candidates else 0] = 1.0
        chosen = self.weights[target]
        out = np.where((positions >= 0)[:, None], chosen[np.maximum(positions, 0)], fallback[None, :])
        return out, int((positions < 0).sum())


@dg.asset(
    name=COMBINATION_ASSET,
    group_name=FORECAST_GROUP,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=TRAINING_POOL,
)
def forecast_combination(
    context: dg.AssetExecutionContext,
    config: CombinationConfig,
    best_model: RegisteredModel,
    storage: StorageResource,
    training: TrainingResource,
) -> dg.Output[Combination]:
    """The published forecast's recipe: DeepAR (the best model) and statistical candidates
    (seasonal naive, statsforecast's MSTL, AutoETS, AutoTheta), each fitted before and scored
    on past windows that end at T - h or earlier (never the validation window), combined per
    series, per segment or globally, whichever did best on the windows left out, with the
    weights shrunk towards the global ones. Quantiles are averaged quantile by quantile. When
    the target window holds declared special periods (holiday weeks) no past window holds, the
    same window a season earlier is added, or only the seasonal candidates take part. The
    validation window scores the combination: the blocking check beats_seasonal_naive publishes
    it only if it beats seasonal naive there. `combinations/<model id>/`…"""
    candidates = list(dict.fromkeys(config.candidates))
    unknown = [c for c in candidates if c not in cb.CANDIDATES]
    if unknown or not candidates:
        raise ConfigurationError(
            f"combination.candidates: {'unknown ' + str(unknown) if unknown else 'none given'}; choose from {list(cb.CANDIDATES)}"
        )
    if config.rolling_windows < 1 or config.shrinkage < 0 or not config.cutoffs or min(config.cutoffs) < 1:
        raise ConfigurationError(
            "combination: rolling_windows must be at least 1, shrinkage 0 or more and cutoffs one or more values of "
            f"at least 1 (got {config.rolling_windows}, {config.shrinkage}, {config.cutoffs})"
        )
    store = storage.store()
    dataset = model_dataset(store, best_model.card)  # the version the model was trained on
    ctx = ModelContext(store, training.engine(store), dataset, model_encoding(store, dataset))
    h, encoding = ctx.dataset.prediction_length, ctx.encoding
    workers = config.workers or available_cores()
    records = read_channel(ctx.store, ctx.dataset, VALIDATION)
    if len(candidates) > 1 and bt.DEEPAR in candidates and ctx.engine.name != "local":
        context.log.warning(
            f"the {ctx.engine.name} engine does not retrain the model before each past window (a training job per "
            f"window), so DeepAR cannot be weighed against {candidates[1:]}: publishing DeepAR alone"
        )
        candidates = [bt.DEEPAR]

    keys = pd.DataFrame([{k: v for k, v in encoding.decode(r["cat"]).items() if k in encoding.ids} for r in records])
    keys = keys[id_columns(encoding)]
    if len(candidates) == 1:
        selection = None
        weights = {t: np.ones((len(records), 1)) for t in (cb.VALIDATION_TARGET, cb.HORIZON_TARGET)}
        levels = dict.fromkeys(weights, "single")
        scales = dict.fromkeys(weights, 1.0)
        powers: dict[str, float] = {}
        cutoffs: dict[str, float] = {}
    else:
        selection = cb.select(
            records,
            h,
            encoding,
            candidates,
            deepar_windows(ctx, best_model, context.log),
            config.rolling_windows,
            config.shrinkage,
            config.cutoffs,
            workers,
            log=context.log.info,
        )
        weights = {t: c.weights for t, c in selection.choices.items()}
        levels = {t: c.level for t, c in selection.choices.items()}
        scales = {t: c.band_scale for t, c in selection.choices.items()}
        powers = {t: c.power for t, c in selection.choices.items()}
        cutoffs = {t: c.cutoff for t, c in selection.choices.items()}
        for target, target_plan in selection.plans.items():
            context.log.info(
                f"{target}: {target_plan.reason}; level {levels[target]}, weights ∝ 1/loss^{powers[target]:g} "
                f"within {cutoffs[target]:g} x the best loss"
            )
        for target, choice in selection.choices.items():
            if choice.level == "none":
                context.log.warning(
                    f"{target}: the history leaves no past window of {h} periods with a season of history before it "
                    f"to weigh the candidates on: DeepAR alone"
                )
        for drop, fell in selection.fallbacks.items():
            context.log.warning(f"window ending {drop} periods before T: seasonal naive stood in for {fell}")

    # The validation window: DeepAR trained to T - h, the statistical candidates on the same histories.
    evaluated = forecaster(ctx.engine, best_model, ctx.dataset, which=EVALUATED_PREDICTOR, log=context.log.info)
    scored = list(dict.fromkeys([*candidates, bt.SEASONAL_NAIVE]))
    window, fell = cb.candidate_window(
        records, 0, h, encoding, scored, lambda cut: evaluated.predict(cut, cut=h), workers
    )
    for name, reasons in fell.items():
        context.log.warning(f"validation window: {name} could not fit every series; seasonal naive stood in: {reasons}")
    rows = np.flatnonzero(window.present)
    validation = {name: {k: v[rows] for k, v in window.forecasts[name].items()} for name in scored}
    validation[COMBINED] = cb.widen(
        cb.combine(window.forecasts, candidates, weights[cb.VALIDATION_TARGET], rows), scales[cb.VALIDATION_TARGET]
    )
    histories = [np.asarray(records[i]["target"], dtype=np.float64)[:-h] for i in rows]
    actual, point_weights, season = window.actual[rows], window.weights[rows], int(encoding.season_length)
    scores = pd.DataFrame(
        {name: bt.score(actual, forecast, point_weights, histories, season) for name, forecast in validation.items()}
    ).T
    what = "DeepAR alone" if candidates == [bt.DEEPAR] else f"the combination of {', '.join(candidates)}"
    outcome = bt.compare(
        f"{best_model.model_id} ({what})",
        scores.loc[COMBINED].to_dict(),
        scores.loc[bt.SEASONAL_NAIVE].to_dict(),
        f"the validation window (the last {h} periods, forecast from T - {h}; {bt.weighting(encoding)})",
    )

    # Stored for people: the weights per series, the windows' scores, the validation scores.
    prefix = f"{COMBINATIONS_PREFIX}/{best_model.model_id}"
    table_rows = keys.copy()
    for target, matrix in weights.items():
        table_rows[f"{target}_level"] = levels[target]
        for c, name in enumerate(candidates):
            table_rows[f"{target}_weight_{name}"] = np.round(matrix[:, c], 4)
    uris = {"weights": put_frame(ctx.store, prefix, "weights", table_rows, encoding.freq)["csv"]}
    uris["validation_scores"] = put_frame(
        ctx.store, prefix, "validation_scores", scores.reset_index(names="model"), encoding.freq
    )["csv"]
    if selection is not None:
        uris["windows"] = put_frame(ctx.store, prefix, "windows", selection.window_scores, encoding.freq)["csv"]
    mean_weights = {
        target: {name: round(float(matrix[:, c].mean()), 4) for c, name in enumerate(candidates)}
        for target, matrix in weights.items()
    }
    result = Combination(
        best_model.model_id,
        candidates,
        keys,
        weights,
        levels,
        scales,
        rows,
        validation,
        scores,
        outcome,
        uris,
        {"rolling": config.rolling_windows, "shrinkage": config.shrinkage, "cutoffs": list(config.cutoffs)},
        powers,
        {name: reasons[rows] for name, reasons in window.reasons.items()},
        cutoffs,
    )
    metadata: dict[str, Any] = {
        "model_id": best_model.model_id,
        "candidates": dg.MetadataValue.json(candidates),
        "levels": dg.MetadataValue.json(levels),
        "band_scales": dg.MetadataValue.json(scales),
        "weight_powers": dg.MetadataValue.json(powers),
        "weight_cutoffs": dg.MetadataValue.json(cutoffs),
        "mean_weights": dg.MetadataValue.json(mean_weights),
        **{f"{name} {bt.GATE_METRIC}": float(scores.loc[name, bt.GATE_METRIC]) for name in scores.index},
        "combination mean_wQuantileLoss": float(scores.loc[COMBINED, "mean_wQuantileLoss"]),
        "combination coverage_80": float(scores.loc[COMBINED, "coverage_80"]),
        "validation_scores": table(scores.reset_index(names="model")),
        "verdict": dg.MetadataValue.md(f"**{outcome.description}**"),
        "weights_uri": dg.MetadataValue.path(uris["weights"]),
    }
    if selection is not None:
        metadata["plans"] = dg.MetadataValue.json(
            {
                t: {"windows": p.drops, "seasonal_only": p.seasonal_only, "reason": p.reason}
                for t, p in selection.plans.items()
            }
        )
        metadata["held_out_loss"] = dg.MetadataValue.json(
            {t: {k: round(v, 5) for k, v in c.held_out_loss.items()} for t, c in selection.choices.items()}
        )
        metadata["windows"] = table(selection.window_scores)
    return dg.Output(result, metadata=metadata)


@dg.asset_check(
    asset=forecast_combination,
    name=GATE_CHECK,
    blocking=True,
    description="The published forecast (the combination, or DeepAR alone when it is the only candidate) must beat "
    "seasonal naive on the validation window, which chose nothing, on WMAE (the MAE weighted by the dataset spec's "
    "period weights; plain MAE when it declares none); otherwise nothing downstream (forecasts, backtest_report, "
    "scenario_forecasts) publishes it.",
)
def beats_seasonal_naive(combination: Combination) -> dg.AssetCheckResult:
    outcome = combination.gate
    assert outcome is not None
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=outcome.description,
        metadata={**plain_metadata(outcome.figures), "verdict": dg.MetadataValue.md(f"**{outcome.description}**")},
    )
