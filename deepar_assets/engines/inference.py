"""Forecasting with a registered model, whichever engine made it.

``forecaster(engine, model, dataset)`` gives an object with ``predict(records, cut)`` →
{"mean", "p10" … "p90"} arrays (n_series, h), h periods of the spec's frequency: the local engine loads the saved predictor once
and samples it; the SageMaker engine runs a batch transform job per call. Also here: the
dataset version a model was trained on (which may be older than the current ``s3_datasets``)
and its encoding, and a refit at an earlier origin for rolling backtests (local engine).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from deepar_assets.constants import CHANNELS, QUANTILES
from deepar_assets.domain.channels import ENCODING_FILE, channel_file
from deepar_assets.domain.encoding import Encoding
from deepar_assets.engines.base import DatasetRef, Log, RegisteredModel, TrainingEngine, TuningSettings
from deepar_assets.errors import ConfigurationError, ObjectNotFoundError, TrainingError
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.versions import read_manifest, read_verified

FORECASTING_PREDICTOR = "predictor"  # the local engine's model refit on every period up to T
EVALUATED_PREDICTOR = "evaluated_predictor"  # trained up to T - h: the one scored on validation


def model_dataset(store: ObjectStore, card: dict[str, Any], current: DatasetRef | None = None) -> DatasetRef:
    """The dataset version the model was trained on: ``current`` when it is that version, else
    read back from the store by its manifest."""
    version = card["data_version"]
    if current is not None and version == current.version:
        return replace(current, prediction_length=int(card.get("prediction_length", current.prediction_length)))
    base = f"datasets/{version}"
    try:
        manifest = read_manifest(store, base)
    except ObjectNotFoundError:
        raise ConfigurationError(
            f"model {card.get('model_id')} was trained on dataset version {version}, which {store.uri(base)} no longer "
            "holds (no manifest.json); retrain on the current data"
        ) from None
    objects = manifest.get("objects", {})
    channels = {}
    for channel in CHANNELS:
        found = [key for key in (channel_file(channel), channel_file(channel) + ".gz") if key in objects]
        if found:
            channels[channel] = found[0]
    return DatasetRef(
        storage_uri=store.root_uri,
        base=base,
        version=version,
        manifest=manifest,
        channels=channels,
        records={},
        prediction_length=int(card["prediction_length"]),
        freq=card["freq"],
        cardinality=list(card["cardinality"]),
        dynamic_feat=list(card["dynamic_feat"]),
        last_period=str(card.get("last_period", card.get("last_week", ""))),  # last_week: cards before specs
    )


def model_encoding(store: ObjectStore, dataset: DatasetRef) -> Encoding:
    """The category codes and feature scaling the model was trained with."""
    return Encoding.from_json(read_verified(store, dataset.base, ENCODING_FILE, dataset.manifest))


class Forecaster:
    """Forecasts ``dataset.prediction_length`` periods after each record's target (less
    ``cut``). Records carry ``dynamic_feat`` only when the model has dynamic features."""

    engine_name = "?"
    batch_size: int | None = None  # records forecast together (the local predictor's batch)

    def predict(self, records: list[dict[str, Any]], cut: int = 0) -> dict[str, np.ndarray]:
        raise NotImplementedError


class LocalForecaster(Forecaster):
    engine_name = "local"

    def __init__(self, engine, model: RegisteredModel, dataset: DatasetRef, which: str, predictor=None):
        self.engine = engine
        self.dataset = dataset
        self.model_id, self.which = model.model_id, which
        self.saved = predictor is None  # a saved model, whose kept samples (best_model's validation forecast) count
        self.seed = int(model.card.get("seed", 0))
        # The model's networks: one, or an ensemble's members (whose samples the engine pools)
        self.predictor = predictor if predictor is not None else engine.load_members(model.model_id, which)
        self.batch_size = int(self.predictor[0].batch_size)
        self.reused = 0  # calls answered with a forecast the model had already sampled

    def predict(self, records: list[dict[str, Any]], cut: int = 0) -> dict[str, np.ndarray]:
        if not records:
            h = self.dataset.prediction_length
            return {k: np.zeros((0, h)) for k in ("mean", *[f"p{round(q * 100)}" for q in QUANTILES])}
        if self.saved:
            kept = self.engine.sampled(self.model_id, self.which, records, self.seed, cut)
            if kept is not None:
                self.reused += 1
                return kept
        return self.engine.forecast(self.predictor, self.dataset, records, self.seed, cut)


def forecaster(
    engine: TrainingEngine,
    model: RegisteredModel,
    dataset: DatasetRef,
    which: str = FORECASTING_PREDICTOR,
    log: Log = print,
) -> Forecaster:
    """A forecaster for ``model``: ``which`` picks the local engine's forecasting model (refit to
    T) or its evaluated one (trained to T − h); SageMaker has one model per registration."""
    if model.card.get("engine") != engine.name:
        raise ConfigurationError(
            f"model {model.model_id} was registered by the {model.card.get('engine')} engine, but the training resource "
            f"is the {engine.name} engine (DEEPAR_BACKEND); forecast with the engine that trained it"
        )
    if engine.name == "local":
        return LocalForecaster(engine, model, dataset, which)
    from deepar_assets.engines.sagemaker import SageMakerEngine, SageMakerForecaster

    if isinstance(engine, SageMakerEngine):
        return SageMakerForecaster(engine, model, dataset, log)
    raise ConfigurationError(f"no forecaster for the {engine.name} engine")


def refit_forecasters(
    engine: TrainingEngine,
    model: RegisteredModel,
    dataset: DatasetRef,
    jobs: dict[Any, list[dict[str, Any]]],
    log: Log = print,
    workers: int = 0,
) -> dict[Any, Forecaster]:
    """The model's hyperparameters trained again on each of several record sets (histories cut
    at earlier origins, by key), for a rolling backtest that never forecasts periods the model
    was trained on: side by side, one process per core (``workers``; 0: every core this
    process may use)."""
    from deepar_assets.engines.local import LocalEngine

    if not isinstance(engine, LocalEngine):
        raise ConfigurationError(
            f"rolling origins retrain the model once per origin, which the {engine.name} engine does not do here "
            "(it would be a training job per origin); set rolling_origins to 1"
        )
    card = model.card
    try:
        settings = TuningSettings(**card["training_settings"])
        hyperparameters = card["hyperparameters"]
    except (KeyError, TypeError) as exc:
        raise TrainingError(f"model {model.model_id}'s card lacks what a refit needs ({exc})") from None
    seeds = [int(s) for s in (card.get("members") or {}).get("seeds", [card.get("seed", 0)])]
    sizes = ", ".join(f"{key}: {len(records)} series" for key, records in jobs.items())
    networks = f", {len(seeds)} networks each (seeds {seeds}) as the model has" if len(seeds) > 1 else ""
    log(
        f"refitting {model.model_id}'s hyperparameters on histories cut at {len(jobs)} earlier origin(s) "
        f"({sizes}){networks}"
    )
    every = {(key, number): records for key, records in jobs.items() for number in range(len(seeds))}
    predictors = engine.fit_many(
        dataset, every, hyperparameters, settings, seeds[0], workers, seeds={k: seeds[k[1]] for k in every}
    )
    return {
        key: LocalForecaster(
            engine,
            model,
            dataset,
            which="refit",
            predictor=[predictors[key, n] for n in range(len(seeds))],
        )
        for key in jobs
    }


def read_channel(store: ObjectStore, dataset: DatasetRef, channel: str) -> list[dict[str, Any]]:
    """A channel's records, checked against the version's manifest (gzip or plain)."""
    import gzip

    from deepar_assets.domain.channels import parse_jsonl

    if channel not in dataset.channels:
        raise ConfigurationError(
            f"dataset version {dataset.version} has no {channel} channel (it has {sorted(dataset.channels)})"
        )
    key = dataset.channels[channel]
    data = read_verified(store, dataset.base, key, dataset.manifest)
    if key.endswith(".gz"):
        data = gzip.decompress(data)
    return parse_jsonl(data, source=dataset.uri(f"{dataset.base}/{key}"))
