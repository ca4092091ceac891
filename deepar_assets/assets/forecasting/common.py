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
from deepar_assets.engines.inference import Forecaster, model_dataset, model_encoding, refit_forecasters
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


class DeepARWindows:
    """DeepAR's forecaster of the window that ends ``drop`` periods before T (``self(drop)``),
    given the channel's records cut at that window's end: with ``evaluated`` (the model
    trained to T - h) at drop 0, otherwise the model's hyperparameters retrained on the
    history before the window, whose features are clipped to the range that history showed
    (the spec's ``outside_training``). One retraining per window, however often it is asked
    for; :meth:`prefit` trains the windows known in advance side by side, one per core.
    ``log``: Dagster's logger (info and warning)."""

    def __init__(self, ctx: ModelContext, model: RegisteredModel, log: Any, evaluated: Forecaster | None = None):
        self.ctx, self.model, self.log, self.evaluated = ctx, model, log, evaluated
        self.rules = feature_rules(ctx.encoding)
        self.models: dict[int, Forecaster] = {}
        self._warned: set[int] = set()

    def _clipped(self, drop: int, cut: Records) -> Records:
        h, encoding = self.ctx.dataset.prediction_length, self.ctx.encoding
        cut, clipped = clip_window(cut, h, self.rules)
        if clipped and drop not in self._warned:
            self._warned.add(drop)
            self.log.warning(
                f"window ending {drop} periods before T: {[encoding.dynamic_feat[i].name for i in clipped]} leave "
                "the range the model retrained before it saw; clipped to it there (the spec's outside_training)"
            )
        return cut

    def _needs_refit(self, drop: int) -> bool:
        return drop not in self.models and not (drop == 0 and self.evaluated is not None)

    def prefit(self, cuts: dict[int, Records]) -> None:
        """Retrain the model before each window whose cut records ``cuts`` holds (by drop), all
        at once: the refits are independent, and each trains on one core."""
        h = self.ctx.dataset.prediction_length
        jobs = {
            drop: [bt.cut_record(r, h) for r in self._clipped(drop, cut)]
            for drop, cut in sorted(cuts.items())
            if cut and self._needs_refit(drop)
        }
        if jobs:
            self.models.update(
                refit_forecasters(self.ctx.engine, self.model, self.ctx.dataset, jobs, log=self.log.info)
            )

    def __call__(self, drop: int) -> Callable[[Records], dict[str, np.ndarray]]:
        h = self.ctx.dataset.prediction_length

        def forecast(cut: Records) -> dict[str, np.ndarray]:
            if drop == 0 and self.evaluated is not None:
                return self.evaluated.predict(cut, cut=h)
            self.prefit({drop: cut})  # nothing to do when it was trained in advance
            return self.models[drop].predict(self._clipped(drop, cut), cut=h)

        return forecast


def deepar_windows(
    ctx: ModelContext, model: RegisteredModel, log: Any, evaluated: Forecaster | None = None
) -> DeepARWindows:
    """DeepAR's forecaster of each past window (see :class:`DeepARWindows`)."""
    return DeepARWindows(ctx, model, log, evaluated)
