"""The training interface both engines implement, and the values passed between assets."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from deepar_assets.domain.hyperparameters import DEFAULT_OBJECTIVE, SearchSpace
from deepar_assets.errors import TrainingError

Log = Callable[[str], None]

MODEL_CARD = "model.json"  # beside every registered model: models/<model id>/model.json


@dataclass(frozen=True)
class DatasetRef:
    """A published dataset version: what ``s3_datasets`` hands to training."""

    storage_uri: str  # the store's root
    base: str  # key prefix of the version: datasets/<version>
    version: str
    manifest: dict
    channels: dict[str, str]  # channel → key of its JSON Lines
    records: dict[str, int]  # channel → number of series
    prediction_length: int
    freq: str
    cardinality: list[int]
    dynamic_feat: list[str]
    last_week: str  # T, YYYY-MM-DD

    def uri(self, key: str) -> str:
        return f"{self.storage_uri.rstrip('/')}/{key}"


@dataclass(frozen=True)
class TuningSettings:
    max_trials: int = 20
    seed: int = 42
    objective_metric: str = DEFAULT_OBJECTIVE
    num_batches_per_epoch: int = 0  # 0: one pass over the series per epoch, as in SageMaker DeepAR
    num_eval_samples: int = 100
    # Local engine only:
    parallel_trials: int = 1  # trials at once (0: one per core)
    prune: bool = True  # stop hopeless trials early (median rule on the held-out loss per epoch)
    store_fraction: float = 1.0  # tune on this share of stores (drawn with the seed); best_model uses all


@dataclass
class Trial:
    number: int
    hyperparameters: dict[str, Any]
    state: Literal["COMPLETE", "FAIL", "PRUNED", "RUNNING"]
    objective: float | None
    duration_s: float
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    name: str | None = None  # the engine's own id of the trial (a SageMaker training job name)


@dataclass
class TuningResult:
    engine: str
    objective_metric: str
    settings: TuningSettings
    dataset: DatasetRef
    trials: list[Trial]
    run_id: str = ""  # the engine's own id of the search (study name, tuning job name)
    # Engine-specific facts worth showing beside the result (e.g. a tuning job's ARN and the
    # most it could cost); plain values, shown as asset metadata as they are.
    details: dict[str, Any] = field(default_factory=dict)

    def best(self) -> Trial:
        done = [t for t in self.trials if t.state == "COMPLETE" and t.objective is not None and math.isfinite(t.objective)]
        if not done:
            errors = "; ".join(f"trial {t.number}: {t.error}" for t in self.trials if t.error)[:2000]
            raise TrainingError(f"no trial of {self.run_id or 'the tuning run'} completed with a finite objective ({errors or 'no trials ran'})")
        return min(done, key=lambda t: t.objective)  # both objectives are minimized


@dataclass
class RegisteredModel:
    model_id: str
    uri: str  # where the model lives (folder, s3:// or an ARN)
    card: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)  # engine-specific facts (ARNs), shown as metadata


class TrainingEngine(ABC):
    """tune(datasets, search space) → trials; register(best trial) → model."""

    name: str

    @abstractmethod
    def tune(self, dataset: DatasetRef, space: SearchSpace, settings: TuningSettings, log: Log) -> TuningResult: ...

    @abstractmethod
    def register_best(self, tuning: TuningResult, log: Log) -> RegisteredModel: ...
