"""DeepAR's own check on best_model (does the model alone beat seasonal naive?), and the refusal
every forecasting asset applies: the blocking gate on combination, which publishes the
combination only if it beats seasonal naive."""

import dagster as dg

from deepar_assets.assets.charts import plain_metadata
from deepar_assets.assets.forecasting.combination import COMBINATION_ASSET, GATE_CHECK, Combination
from deepar_assets.assets.training import best_model
from deepar_assets.automation import latest_check_evaluation
from deepar_assets.constants import VALIDATION
from deepar_assets.domain import backtest as bt
from deepar_assets.engines.base import RegisteredModel
from deepar_assets.engines.inference import EVALUATED_PREDICTOR, forecaster, model_dataset, model_encoding, read_channel
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.base import ObjectStore

DEEPAR_CHECK = "deepar_beats_seasonal_naive"


@dg.asset_check(
    asset=best_model,
    name=DEEPAR_CHECK,
    blocking=False,
    description="Does DeepAR alone beat seasonal naive on the validation window, which no trial has seen, on WMAE (the "
    "MAE weighted by the dataset spec's period weights; plain MAE when it declares none)? A warning, not a gate: what "
    "is published is the combination asset's, which its blocking check beats_seasonal_naive gates.",
)
def deepar_beats_seasonal_naive(
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
        severity=dg.AssetCheckSeverity.WARN,
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


def require_passing_model(context: dg.AssetExecutionContext, combination: Combination | None = None) -> None:
    """Refuse to publish what failed the gate: the blocking check on combination, its
    verdict on the latest materialization when the instance has one, else the verdict the
    combination carries (a run that left the check out)."""
    verdict = _check_verdict(context.instance)
    if verdict is None and combination is not None and combination.gate is not None:
        verdict = combination.gate.passed, combination.gate.description
    if verdict is None:
        raise dg.Failure(
            description=f"no verdict of the blocking check {GATE_CHECK} on {COMBINATION_ASSET}: materialize it first"
        )
    passed, description = verdict
    if not passed:
        raise dg.Failure(
            description=f"refusing to publish: the blocking check {GATE_CHECK} on {COMBINATION_ASSET} failed: {description}",
            metadata={"check": GATE_CHECK},
        )


def _check_verdict(instance: dg.DagsterInstance) -> tuple[bool, str] | None:
    """(passed, description) of the gate check's latest evaluation when it evaluated the latest
    materialization of combination; None otherwise."""
    asset = dg.AssetKey(COMBINATION_ASSET)
    evaluation = latest_check_evaluation(instance, dg.AssetCheckKey(asset, GATE_CHECK))
    latest = instance.fetch_materializations(asset, limit=1).records
    if evaluation is None or not latest:
        return None
    target = evaluation.target_materialization_data
    if target is None or target.storage_id != latest[0].storage_id:
        return None
    return bool(evaluation.passed), evaluation.description or ""
