"""What the forecasting assets share: where they publish, the model's context (its dataset
version and encoding), and small helpers."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepar_assets.domain import backtest as bt
from deepar_assets.domain import forecasting as fc
from deepar_assets.domain.covariate_audit import clip_window, feature_rules
from deepar_assets.domain.encoding import EncodedSeries, Encoding
from deepar_assets.domain.spec import periods
from deepar_assets.engines.base import DatasetRef, RegisteredModel
from deepar_assets.engines.inference import Forecaster, model_dataset, model_encoding, refit_forecaster
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.base import ObjectStore

FORECAST_GROUP = "forecasting"
FORECASTS_PREFIX = "forecasts"
BACKTESTS_PREFIX = "backtests"
SCENARIOS_PREFIX = "scenarios"
SCENARIO_FILE = "scenario.json"


@dataclass
class ModelContext:
    """What forecasting with a registered model needs: the store, the engine, the dataset
    version the model was trained on and that version's encoding."""

    store: ObjectStore
    engine: Any
    dataset: DatasetRef  # the version the model was trained on
    encoding: Encoding  # ... and its encoding


def model_context(
    model: RegisteredModel, s3_datasets: DatasetRef, storage: StorageResource, training: TrainingResource
) -> ModelContext:
    store = storage.store()
    dataset = model_dataset(store, model.card, s3_datasets)
    return ModelContext(store, training.engine(store), dataset, model_encoding(store, dataset))


def put_frame(store: ObjectStore, prefix: str, name: str, frame: pd.DataFrame, freq: str) -> dict[str, str]:
    store.put_bytes(f"{prefix}/{name}.csv", fc.to_csv_bytes(frame, freq))
    store.put_bytes(f"{prefix}/{name}.parquet", fc.to_parquet_bytes(frame))
    return {"csv": store.uri(f"{prefix}/{name}.csv"), "parquet": store.uri(f"{prefix}/{name}.parquet")}


def origin_key(stamp: pd.Timestamp, freq: str) -> str:
    """T as a storage key segment: its date (and hour, for hourly data)."""
    return pd.Timestamp(stamp).strftime("%Y-%m-%dT%H" if periods.normalize(freq) == "h" else "%Y-%m-%d")


def by_name(column: str) -> str:
    """A breakdown's name in storage keys and metadata: by_<column>, other characters as _."""
    return "by_" + re.sub(r"[^A-Za-z0-9_.-]", "_", column)


def history_periods(configured: int, encoded: EncodedSeries, h: int) -> int:
    """Periods of history drawn before a forecast: as configured, else a season or three
    horizons, whichever is longer."""
    return configured or max(fc.season_of(encoded), 3 * h)


Records = list[dict[str, Any]]


def deepar_windows(
    ctx: ModelContext, model: RegisteredModel, log: Any, evaluated: Forecaster | None = None
) -> Callable[[int], Callable[[Records], dict[str, np.ndarray]]]:
    """DeepAR's forecaster of the window that ends ``drop`` periods before T, given the
    channel's records cut at that window's end: with ``evaluated`` (the model trained to
    T - h) at drop 0, otherwise the model's hyperparameters retrained on the history before
    the window, whose features are clipped to the range that history showed (the spec's
    ``outside_training``). One retraining per window, however often it is asked for.
    ``log``: Dagster's logger (info and warning)."""
    h, encoding = ctx.dataset.prediction_length, ctx.encoding
    rules = feature_rules(encoding)
    models: dict[int, Forecaster] = {}

    def at(drop: int) -> Callable[[Records], dict[str, np.ndarray]]:
        def forecast(cut: Records) -> dict[str, np.ndarray]:
            if drop == 0 and evaluated is not None:
                return evaluated.predict(cut, cut=h)
            cut, clipped = clip_window(cut, h, rules)
            if clipped:
                log.warning(
                    f"window ending {drop} periods before T: {[encoding.dynamic_feat[i].name for i in clipped]} leave "
                    "the range the model retrained before it saw; clipped to it there (the spec's outside_training)"
                )
            if drop not in models:
                models[drop] = refit_forecaster(
                    ctx.engine, model, ctx.dataset, [bt.cut_record(r, h) for r in cut], log=log.info
                )
            return models[drop].predict(cut, cut=h)

        return forecast

    return at
