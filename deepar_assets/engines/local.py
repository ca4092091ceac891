"""The embedded local engine: GluonTS's PyTorch DeepAR, tuned by Optuna.

It reads the very JSON Lines channels SageMaker would read (``cat`` → ``feat_static_cat``,
``dynamic_feat`` → ``feat_dynamic_real``, ``"NaN"`` targets → missing values), uses SageMaker
DeepAR's hyperparameter names and objective definitions, and reports its own metrics. It is
the same model family as SageMaker's DeepAR, not a bit-for-bit replica.

Heavy imports (torch, lightning, gluonts, optuna) happen inside functions, so loading the
Dagster definitions stays fast.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.constants import (
    FIELD_CAT,
    FIELD_DYNAMIC_FEAT,
    FIELD_START,
    FIELD_TARGET,
    QUANTILES,
    TEST,
    VALIDATION,
)
from deepar_assets.domain import metrics
from deepar_assets.domain.baselines import seasonal_naive
from deepar_assets.domain.channels import parse_jsonl
from deepar_assets.domain.hyperparameters import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    SearchSpace,
    validate_space,
)
from deepar_assets.engines.base import (
    DatasetRef,
    Log,
    RegisteredModel,
    TrainingEngine,
    Trial,
    TuningResult,
    TuningSettings,
)
from deepar_assets.errors import ConfigurationError, TrainingError
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.versions import read_verified

MODEL_CARD = "model.json"
PREDICTOR_DIR = "predictor"
# Weekly lags of GluonTS's default set that a few years of weekly history can feed: recent
# weeks and the same week a year earlier. The default set also reaches 2 and 3 years back,
# which lengthens every training window by 100+ steps for lags that are mostly padding.
WEEKLY_LAGS = [1, 2, 3, 4, 5, 6, 7, 8, 12, 51, 52, 53]

_QUIET_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "gluonts", "optuna")


@contextmanager
def quiet_training() -> Iterator[None]:
    """No progress bars, model summaries or per-epoch chatter in the Dagster log."""
    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # Library-internal notices (data loader workers, LSTM dropout with one layer,
        # deprecations inside gluonts/lightning) say nothing a user of this platform can act on.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def library_versions() -> dict[str, str]:
    names = ("deepar-assets", "gluonts", "torch", "lightning", "optuna", "numpy", "pandas", "dagster")
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _distr_output(likelihood: str):
    from gluonts.torch.distributions import BetaOutput, NegativeBinomialOutput, NormalOutput, StudentTOutput

    outputs = {
        "student-T": StudentTOutput,
        "gaussian": NormalOutput,
        "negative-binomial": NegativeBinomialOutput,
        "beta": BetaOutput,
    }
    if likelihood not in outputs:
        raise ConfigurationError(
            f"likelihood {likelihood!r} is not available in the local engine; choose from {sorted(outputs)} "
            "(deterministic-L1 exists only in SageMaker's DeepAR)"
        )
    return outputs[likelihood]()


def to_gluonts_entries(records: list[dict[str, Any]], freq: str, cut: int = 0) -> list[dict[str, Any]]:
    """DeepAR records as GluonTS data entries; ``cut`` drops that many final target points
    (the scored window) while keeping the dynamic features that cover it."""
    entries = []
    for record in records:
        target = record[FIELD_TARGET]
        entry = {
            "start": pd.Period(record[FIELD_START], freq=freq),
            "target": np.asarray(target[: len(target) - cut], dtype=np.float32),
            "feat_static_cat": np.asarray(record[FIELD_CAT], dtype=np.int64),
        }
        if FIELD_DYNAMIC_FEAT in record:
            entry["feat_dynamic_real"] = np.asarray(record[FIELD_DYNAMIC_FEAT], dtype=np.float32)
        entries.append(entry)
    return entries


def suggest(trial, space: SearchSpace) -> dict[str, Any]:
    """Draw one set of hyperparameters from the shared search space with Optuna."""
    chosen: dict[str, Any] = {}
    for name, rng in space.items():
        if isinstance(rng, CategoricalRange):
            chosen[name] = trial.suggest_categorical(name, list(rng.values))
            continue
        if rng.scaling == "ReverseLogarithmic":
            raise ConfigurationError(f"search space: {name} uses ReverseLogarithmic scaling, which the local engine does not support")
        log = rng.scaling == "Logarithmic"
        if isinstance(rng, IntegerRange):
            chosen[name] = trial.suggest_int(name, rng.min_value, rng.max_value, log=log)
        elif isinstance(rng, ContinuousRange):
            chosen[name] = trial.suggest_float(name, rng.min_value, rng.max_value, log=log)
    return chosen


class LocalEngine(TrainingEngine):
    """GluonTS DeepAR on PyTorch (CPU), searched with Optuna's TPE sampler."""

    name = "local"

    def __init__(self, store: ObjectStore, work_dir: Path):
        self.store = store
        self.work_dir = Path(work_dir)

    # -- data -------------------------------------------------------------------------
    def read_channel(self, dataset: DatasetRef, channel: str) -> list[dict[str, Any]]:
        key = dataset.channels[channel]
        data = read_verified(self.store, dataset.base, key, dataset.manifest)
        if key.endswith(".gz"):
            data = gzip.decompress(data)
        return parse_jsonl(data, source=dataset.uri(f"{dataset.base}/{key}"))

    # -- training ---------------------------------------------------------------------
    def fit(self, dataset: DatasetRef, records: list[dict[str, Any]], hp: dict[str, Any], settings: TuningSettings, seed: int):
        """Train DeepAR with SageMaker-named hyperparameters on the given records."""
        import lightning.pytorch as pl
        from gluonts.torch.model.deepar import DeepAREstimator

        self.work_dir.mkdir(parents=True, exist_ok=True)
        with quiet_training(), tempfile.TemporaryDirectory(dir=self.work_dir, prefix="train-") as scratch:
            pl.seed_everything(seed, workers=True, verbose=False)
            estimator = DeepAREstimator(
                freq=dataset.freq,
                prediction_length=dataset.prediction_length,
                context_length=int(hp["context_length"]),
                num_layers=int(hp["num_layers"]),
                hidden_size=int(hp["num_cells"]),
                lr=float(hp["learning_rate"]),
                dropout_rate=float(hp["dropout_rate"]),
                num_feat_dynamic_real=len(dataset.dynamic_feat),
                num_feat_static_cat=len(dataset.cardinality),
                cardinality=list(dataset.cardinality),
                embedding_dimension=[int(hp["embedding_dimension"])] * len(dataset.cardinality),
                distr_output=_distr_output(hp["likelihood"]),
                lags_seq=WEEKLY_LAGS,
                batch_size=int(hp["mini_batch_size"]),
                num_batches_per_epoch=settings.num_batches_per_epoch,
                num_parallel_samples=settings.num_eval_samples,
                trainer_kwargs={
                    "max_epochs": int(hp["epochs"]),
                    "accelerator": "cpu",
                    "devices": 1,
                    "default_root_dir": scratch,  # GluonTS's checkpoint goes here, then away
                    "logger": False,
                    "enable_progress_bar": False,
                    "enable_model_summary": False,
                },
            )
            entries = to_gluonts_entries(records, dataset.freq)
            try:
                predictor = estimator.train(entries, cache_data=True)
            except Exception as exc:  # noqa: BLE001 - re-raised with the trial's context
                raise TrainingError(f"DeepAR training failed with {hp}: {type(exc).__name__}: {exc}") from exc
        return predictor

    def forecast(self, predictor, dataset: DatasetRef, records: list[dict[str, Any]], seed: int, cut: int) -> dict[str, np.ndarray]:
        """Sample forecasts for the ``prediction_length`` weeks after each record's target
        (less ``cut`` points). Returns mean and quantiles, each (n_series, h)."""
        import torch

        h = dataset.prediction_length
        for number, record in enumerate(records, start=1):
            needed = len(record[FIELD_TARGET]) - cut + h
            have = np.shape(record.get(FIELD_DYNAMIC_FEAT, np.zeros((1, needed))))[1]
            if dataset.dynamic_feat and have < needed:
                raise TrainingError(
                    f"series {number} (cat {record[FIELD_CAT]}): dynamic_feat covers {have} weeks, but forecasting "
                    f"{h} weeks after its {needed - h} target weeks needs {needed} (features must be known ahead)"
                )
        with quiet_training():
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            inputs = to_gluonts_entries(records, dataset.freq, cut=cut)
            samples = np.stack([f.samples for f in predictor.predict(inputs)])  # (n, samples, h)
        if not np.isfinite(samples).all():
            raise TrainingError("the model produced non-finite forecast samples")
        out = {"mean": samples.mean(axis=1)}
        for tau, values in zip(QUANTILES, np.quantile(samples, QUANTILES, axis=1), strict=True):
            out[f"p{round(tau * 100)}"] = values
        return out

    @staticmethod
    def score(actual: np.ndarray, forecast: dict[str, np.ndarray]) -> dict[str, float]:
        """SageMaker DeepAR's objectives on the scored window."""
        quantiles = {tau: forecast[f"p{round(tau * 100)}"] for tau in QUANTILES}
        return {
            "test:mean_wQuantileLoss": metrics.mean_weighted_quantile_loss(actual, quantiles),
            "test:RMSE": metrics.rmse(actual, forecast["mean"]),
        }

    def evaluate(self, predictor, dataset: DatasetRef, records: list[dict[str, Any]], seed: int) -> tuple[dict[str, float], dict[str, np.ndarray], np.ndarray]:
        h = dataset.prediction_length
        actual = np.stack([r[FIELD_TARGET][-h:] for r in records])
        forecast = self.forecast(predictor, dataset, records, seed, cut=h)
        return self.score(actual, forecast), forecast, actual

    # -- search -----------------------------------------------------------------------
    def tune(self, dataset: DatasetRef, space: SearchSpace, settings: TuningSettings, log: Log) -> TuningResult:
        import optuna

        validate_space(space)
        if settings.max_trials < 1:
            raise ConfigurationError(f"max_trials must be at least 1, got {settings.max_trials}")
        train = self.read_channel(dataset, "train")
        test = self.read_channel(dataset, TEST)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study_name = f"deepar-{dataset.version}-seed{settings.seed}"
        study = optuna.create_study(
            study_name=study_name,
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=settings.seed),
        )
        started = time.monotonic()

        def objective(trial: optuna.Trial) -> float:
            hp = suggest(trial, space)
            seed = settings.seed + trial.number
            trial.set_user_attr("seed", seed)
            try:
                predictor = self.fit(dataset, train, hp, settings, seed)
                scores, _, _ = self.evaluate(predictor, dataset, test, seed)
            except (TrainingError, ConfigurationError) as exc:
                trial.set_user_attr("error", str(exc)[:1000])
                return math.nan  # Optuna records the trial as failed
            for name, value in scores.items():
                trial.set_user_attr(name, value)
            return scores[settings.objective_metric]

        def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            best = _best_value(study)
            value = "failed: " + trial.user_attrs.get("error", "?") if trial.value is None or math.isnan(trial.value) else f"{trial.value:.5f}"
            log(
                f"trial {trial.number + 1}/{settings.max_trials} {trial.params} "
                f"{settings.objective_metric}={value} best={best if best is None else f'{best:.5f}'} "
                f"elapsed={time.monotonic() - started:.0f}s"
            )

        study.optimize(objective, n_trials=settings.max_trials, callbacks=[progress], gc_after_trial=True)
        trials = [_to_trial(t, settings.objective_metric) for t in study.trials]
        return TuningResult(
            engine=self.name,
            objective_metric=settings.objective_metric,
            settings=settings,
            dataset=dataset,
            trials=trials,
            run_id=study_name,
        )

    # -- the best model -----------------------------------------------------------------
    def register_best(self, tuning: TuningResult, log: Log) -> RegisteredModel:
        """Retrain the best trial's hyperparameters on the test channel's history (up to
        T − h), score it on the validation window it has never seen, and save it with its
        model card under ``models/<model id>/``."""
        best = tuning.best()
        dataset = tuning.dataset
        seed = tuning.settings.seed
        model_id = model_id_for(dataset.version, best.hyperparameters, seed)
        prefix = f"models/{model_id}"
        log(f"training the best hyperparameters (trial {best.number} of {tuning.run_id}) on the test channel: {best.hyperparameters}")
        test = self.read_channel(dataset, TEST)
        validation = self.read_channel(dataset, VALIDATION)
        started = time.monotonic()
        predictor = self.fit(dataset, test, best.hyperparameters, tuning.settings, seed)
        train_s = time.monotonic() - started
        scores, forecast, actual = self.evaluate(predictor, dataset, validation, seed)
        validation_metrics = {name.replace("test:", "validation:"): value for name, value in scores.items()}
        baseline = self._seasonal_naive_scores(dataset, validation, actual)

        card = {
            "model_id": model_id,
            "engine": self.name,
            "model_type": "gluonts.torch.model.deepar (DeepAREstimator)",
            "data_version": dataset.version,
            "dataset_uri": dataset.uri(dataset.base),
            "trained_on": f"test channel (history up to T - {dataset.prediction_length} weeks)",
            "last_week": dataset.last_week,
            "prediction_length": dataset.prediction_length,
            "freq": dataset.freq,
            "cardinality": dataset.cardinality,
            "dynamic_feat": dataset.dynamic_feat,
            "hyperparameters": best.hyperparameters,
            "objective": {"name": tuning.objective_metric, "value": best.objective, "trial": best.number},
            "tuning_run": tuning.run_id,
            "validation_metrics": validation_metrics,
            "seasonal_naive_validation_metrics": baseline,
            "seed": seed,
            "training_settings": asdict(tuning.settings),
            "train_seconds": round(train_s, 1),
            "library_versions": library_versions(),
        }
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix="model-") as scratch:
            predictor.serialize(Path(scratch))
            self.store.put_folder(Path(scratch), f"{prefix}/{PREDICTOR_DIR}")
        self.store.put_bytes(f"{prefix}/{MODEL_CARD}", json.dumps(card, indent=1, sort_keys=True, default=str).encode())
        return RegisteredModel(model_id=model_id, uri=self.store.uri(prefix), card=card)

    def _seasonal_naive_scores(self, dataset: DatasetRef, records: list[dict[str, Any]], actual: np.ndarray) -> dict[str, float]:
        h = dataset.prediction_length
        histories = [r[FIELD_TARGET][:-h] for r in records]
        naive = np.stack([seasonal_naive(hist, h) for hist in histories])
        return {
            "validation:mean_wQuantileLoss": metrics.mean_weighted_quantile_loss(actual, {tau: naive for tau in QUANTILES}),
            "validation:RMSE": metrics.rmse(actual, naive),
        }

    def load(self, model_id: str):
        """Load a saved model's predictor from the store."""
        from gluonts.torch.model.predictor import PyTorchPredictor

        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix="load-") as scratch:
            folder = self.store.get_folder(f"models/{model_id}/{PREDICTOR_DIR}", Path(scratch))
            with quiet_training():
                return PyTorchPredictor.deserialize(folder, device="cpu")


def model_id_for(data_version: str, hyperparameters: dict[str, Any], seed: int) -> str:
    digest = hashlib.sha256(json.dumps([data_version, hyperparameters, seed], sort_keys=True).encode()).hexdigest()
    return f"deepar-{data_version[:8]}-{digest[:8]}"


def _best_value(study) -> float | None:
    try:
        return study.best_value
    except ValueError:
        return None


def _to_trial(frozen, objective_metric: str) -> Trial:
    duration = frozen.duration.total_seconds() if frozen.duration is not None else 0.0
    value = frozen.value
    failed = value is None or (isinstance(value, float) and math.isnan(value))
    state = frozen.state.name
    if state == "COMPLETE" and failed:
        state = "FAIL"
    return Trial(
        number=frozen.number + 1,  # 1-based, as the progress log counts them
        hyperparameters=dict(frozen.params),
        state=state,
        objective=None if failed else float(value),
        duration_s=round(duration, 2),
        metrics={k: v for k, v in frozen.user_attrs.items() if k.startswith("test:")},
        error=frozen.user_attrs.get("error"),
    )
