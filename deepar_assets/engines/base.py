"""The training interface both engines implement, and the values passed between assets."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from deepar_assets.constants import TRAIN
from deepar_assets.domain.hyperparameters import DEFAULT_OBJECTIVE, SearchSpace, SpaceFacts, default_search_space
from deepar_assets.errors import TrainingError

if TYPE_CHECKING:
    from deepar_assets.storage.base import ObjectStore

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
    freq: str  # the encoding's pandas alias (D, W-MON … W-SUN, MS, ME, h)
    cardinality: list[int]  # per cat position: the ids, then the categorical attributes
    dynamic_feat: list[str]  # empty when the dataset has no dynamic features
    last_period: str  # T, as periods.format_period writes it

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
    # Tune on this share of the values of the first id column, with all their series (drawn with
    # the seed); best_model uses every series.
    id_fraction: float = 1.0


TrialState = Literal["COMPLETE", "FAIL", "PRUNED", "RUNNING"]


@dataclass
class Trial:
    number: int
    hyperparameters: dict[str, Any]
    state: TrialState
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
        done = [
            (t, t.objective)
            for t in self.trials
            if t.state == "COMPLETE" and t.objective is not None and math.isfinite(t.objective)
        ]
        if not done:
            errors = "; ".join(f"trial {t.number}: {t.error}" for t in self.trials if t.error)[:2000]
            raise TrainingError(
                f"no trial of {self.run_id or 'the tuning run'} completed with a finite objective ({errors or 'no trials ran'})"
            )
        return min(done, key=lambda scored: scored[1])[0]  # both objectives are minimized


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
    def register_best(self, tuning: TuningResult, log: Log, members: int = 1) -> RegisteredModel:
        """The best trial's hyperparameters as a registered model; ``members`` > 1 asks for an
        ensemble of that many networks trained with consecutive seeds (where the engine can)."""


def dataset_facts(store: ObjectStore, dataset: DatasetRef, counts: bool = True) -> SpaceFacts:
    """What a dataset version's default search space follows from: its spec (recorded in its
    ``encoding.json``), the horizon it was cut with, and (``counts``) whether every observed
    target of its train channel is a non-negative whole number. That reads the channel, so it
    is skipped when the spec's own search space fixes the likelihood."""
    import gzip

    import numpy as np

    from deepar_assets.constants import FIELD_TARGET
    from deepar_assets.domain.channels import ENCODING_FILE, parse_jsonl
    from deepar_assets.domain.encoding import Encoding
    from deepar_assets.storage.versions import read_verified

    encoding = Encoding.from_json(read_verified(store, dataset.base, ENCODING_FILE, dataset.manifest))
    declared = ((encoding.spec.get("tuning") or {}).get("search_space") or {}) if encoding.spec else {}
    whole = False
    if counts and "likelihood" not in declared:
        data = read_verified(store, dataset.base, dataset.channels[TRAIN], dataset.manifest)
        if dataset.channels[TRAIN].endswith(".gz"):
            data = gzip.decompress(data)
        whole = True
        for record in parse_jsonl(data, source=dataset.uri(f"{dataset.base}/{dataset.channels[TRAIN]}")):
            target = record[FIELD_TARGET][~np.isnan(record[FIELD_TARGET])]
            if (target < 0).any() or (target != np.round(target)).any():
                whole = False
                break
    # The season the data was encoded with, the horizon it was cut with, the spec's own space.
    return SpaceFacts(
        season_length=encoding.season_length,
        prediction_length=dataset.prediction_length,
        counts=whole,
        spec_space=declared or None,
        dataset=encoding.dataset or str((encoding.spec or {}).get("name", "")),
    )


def search_space_for(
    store: ObjectStore, dataset: DatasetRef, given: SearchSpace | None = None
) -> tuple[SearchSpace, str]:
    """The space a tuning run searches, and where it came from: the dataset's default (its
    spec's ``tuning.search_space``, or the one its data implies) with every range of
    ``given`` (the run config's) in its place."""
    given = dict(given or {})
    facts = dataset_facts(store, dataset, counts="likelihood" not in given)
    space = {**default_search_space(facts, dataset.records.get(TRAIN, 0)), **given}
    declared = sorted(facts.spec_space or {})
    name = facts.dataset or dataset.version
    if declared:
        origin = f"the {name} spec's tuning.search_space ({', '.join(declared)})"
        if len(declared) < len(space):
            origin += ", the rest implied by its data"
    else:
        origin = f"implied by the {name} data (season {facts.season_length}, horizon {facts.prediction_length}, "
        origin += f"{dataset.records.get(TRAIN, 0)} series{', counts' if facts.counts else ''})"
    if given:
        origin = f"run config: {', '.join(sorted(given))}; the rest: " + origin
    return space, origin
