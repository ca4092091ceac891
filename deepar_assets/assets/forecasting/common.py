"""What the forecasting assets share: where they publish, the model's context (its dataset
version and encoding), and small helpers."""

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from deepar_assets.domain import forecasting as fc
from deepar_assets.domain.encoding import EncodedSeries, Encoding
from deepar_assets.domain.spec import periods
from deepar_assets.engines.base import DatasetRef, RegisteredModel
from deepar_assets.engines.inference import model_dataset, model_encoding
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
