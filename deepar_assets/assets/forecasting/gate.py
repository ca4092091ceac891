"""The blocking check on best_model that keeps a model that loses to seasonal naive from being
published, and the refusal every forecasting asset applies."""

import dagster as dg

from deepar_assets.assets.charts import plain_metadata
from deepar_assets.assets.training import best_model
from deepar_assets.automation import latest_check_evaluation
from deepar_assets.constants import VALIDATION
from deepar_assets.domain import backtest as bt
from deepar_assets.engines.base import RegisteredModel
from deepar_assets.engines.inference import EVALUATED_PREDICTOR, forecaster, model_dataset, model_encoding, read_channel
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.base import ObjectStore

GATE_CHECK = "beats_seasonal_naive"


@dg.asset_check(
    asset=best_model,
    name=GATE_CHECK,
    blocking=True,
    description="The model must beat seasonal naive on the validation window, which no trial has seen, on WMAE (the "
    "MAE weighted by the dataset spec's period weights; plain MAE when it declares none); otherwise nothing downstream "
    "(forecasts, backtest_report, scenario_forecasts) publishes it.",
)
def beats_seasonal_naive(
    context: dg.AssetCheckExecutionContext,
    best_model: RegisteredModel,
    storage: StorageResource,
    training: TrainingResource,
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
        metadata={**plain_metadata(outcome.figures), "verdict": dg.MetadataValue.md(f"**{outcome.description}**")},
    )


def score_validation_window(model: RegisteredModel, store: ObjectStore, engine, log) -> bt.GateOutcome:
    """The model and seasonal naive on the validation window, for a model whose card has no
    such scores: the validation channel's histories cut h periods before T, forecast by the
    engine (a batch transform on SageMaker; the model there was trained on the train channel,
    up to T - 2h, so the window is unseen)."""
    dataset = model_dataset(store, model.card)
    encoding = model_encoding(store, dataset)
    h = dataset.prediction_length
    records = read_channel(store, dataset, VALIDATION)
    log(
        f"scoring {model.model_id} on the validation window ({len(records)} series, {h} periods) with the {engine.name} engine"
    )
    deepar = forecaster(engine, model, dataset, which=EVALUATED_PREDICTOR, log=log).predict(records, cut=h)
    scores = bt.build_window(records, h, encoding, deepar).scores()
    return bt.compare(
        model.model_id,
        scores.loc[bt.DEEPAR].to_dict(),
        scores.loc[bt.SEASONAL_NAIVE].to_dict(),
        f"the validation window (the last {h} periods, forecast from T - {h}; {bt.weighting(encoding)})",
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
            description=f"refusing model {model.model_id}: {outcome.description}",
            metadata=plain_metadata(outcome.figures),
        )


def _check_verdict(instance: dg.DagsterInstance) -> tuple[bool, str] | None:
    """(passed, description) of the gate check's latest evaluation when it evaluated the latest
    materialization of best_model; None otherwise."""
    evaluation = latest_check_evaluation(instance, dg.AssetCheckKey(dg.AssetKey("best_model"), GATE_CHECK))
    latest = instance.fetch_materializations(dg.AssetKey("best_model"), limit=1).records
    if evaluation is None or not latest:
        return None
    target = evaluation.target_materialization_data
    if target is None or target.storage_id != latest[0].storage_id:
        return None
    return bool(evaluation.passed), evaluation.description or ""
