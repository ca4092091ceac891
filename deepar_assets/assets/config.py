"""Typed run config of the assets; the descriptions show in the launchpad of Dagster's UI."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from deepar_assets.domain.hyperparameters import (
    DEFAULT_OBJECTIVE,
    LIKELIHOODS,
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    SearchSpace,
)
from deepar_assets.domain.spec import DatasetSpec
from deepar_assets.engines.base import TuningSettings

ScalingType = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]


class IntRange(dg.Config):
    min_value: int = Field(description="Smallest value tried.")
    max_value: int = Field(description="Largest value tried (equal to min_value to fix it).")
    scaling: ScalingType = Field(default="Auto", description="How values are drawn (SageMaker's ScalingType).")


class FloatRange(dg.Config):
    min_value: float = Field(description="Smallest value tried.")
    max_value: float = Field(description="Largest value tried (equal to min_value to fix it).")
    scaling: ScalingType = Field(default="Auto", description="How values are drawn (SageMaker's ScalingType).")


_UNSET = " Unset: the dataset's default (its spec's tuning.search_space, else centred on what its data implies)."


class SearchSpaceConfig(dg.Config):
    """Ranges of SageMaker DeepAR's tunable hyperparameters (same names, same meaning); each
    range left unset is the dataset's default."""

    epochs: IntRange | None = Field(default=None, description="Passes over the training data." + _UNSET)
    context_length: IntRange | None = Field(
        default=None, description="Periods the model sees before predicting." + _UNSET
    )
    num_cells: IntRange | None = Field(default=None, description="Cells in each hidden layer of the RNN." + _UNSET)
    num_layers: IntRange | None = Field(default=None, description="Hidden layers of the RNN." + _UNSET)
    learning_rate: FloatRange | None = Field(default=None, description="Learning rate." + _UNSET)
    dropout_rate: FloatRange | None = Field(default=None, description="Dropout rate." + _UNSET)
    mini_batch_size: IntRange | None = Field(default=None, description="Series windows per batch." + _UNSET)
    embedding_dimension: IntRange | None = Field(
        default=None, description="Size of each category's embedding." + _UNSET
    )
    likelihood: list[str] | None = Field(
        default=None,
        description=f"Noise models to try, among {', '.join(LIKELIHOODS)} (negative-binomial and beta "
        "need non-negative targets; deterministic-L1 exists only on SageMaker)." + _UNSET,
    )

    def to_space(self) -> SearchSpace:
        """The ranges given (the others are left to the dataset's default)."""
        space: SearchSpace = {}
        for name in SearchSpaceConfig.model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, IntRange):
                space[name] = IntegerRange(value.min_value, value.max_value, value.scaling)
            elif isinstance(value, FloatRange):
                space[name] = ContinuousRange(value.min_value, value.max_value, value.scaling)
            else:
                space[name] = CategoricalRange(tuple(value))
        return space


class RawSalesConfig(dg.Config):
    allow_gap: bool = Field(
        default=False,
        description="Store the partitions even when they leave more periods without target rows next to them "
        "than the dataset spec's evaluation.max_gap_periods (a drop long after the stored history, or a long empty "
        "stretch in the source). Off: such a load is refused, naming the partition and the gap.",
    )


class EncodingConfig(dg.Config):
    dynamic_features: list[str] | None = Field(
        default=None,
        description="Dynamic features, in order, each filled and scaled as the dataset spec declares: its "
        "covariates, <covariate>_missing indicators, derived and calendar features, real attributes. Unset: the "
        "spec's default features (its `features`, else every feature it declares).",
    )

    def features(self) -> tuple[str, ...] | None:
        """The features asked for, or None for the spec's default."""
        return None if self.dynamic_features is None else tuple(self.dynamic_features)


class DatasetConfig(dg.Config):
    prediction_length: int = Field(
        default=0,
        ge=0,
        description="Periods to forecast (h); 0: the dataset spec's (evaluation.prediction_length, else the "
        "default of its frequency). validation = history to T, test = to T - h, train = to T - 2h.",
    )
    compress: bool = Field(
        default=False,
        description="Gzip the channels (train/data.json.gz, ...; SageMaker DeepAR reads them as they are). "
        "Smaller uploads; a different content, hence a different dataset version.",
    )
    rolling_origins: int = Field(
        default=1,
        description="Forecast origins in the test channel: more than 1 adds every series cut at earlier ends "
        "(rolling evaluation), so tuning scores several origins instead of one; the train channel then ends where the "
        "earliest scored window starts, so that trials are scored out of sample at every origin.",
    )
    origin_step: int = Field(default=0, description="Periods between rolling origins (0: the prediction length).")

    def horizon(self, spec: DatasetSpec) -> int:
        """The prediction length: the config's, else the spec's."""
        return self.prediction_length or spec.prediction_length


class TuningConfig(dg.Config):
    max_trials: int = Field(default=20, description="Trials in the hyperparameter search (SageMaker's max_jobs).")
    seed: int = Field(
        default=42,
        description="Seed of the search and of every trial (a trial trains with this seed and a digest of its "
        "hyperparameters, so a configuration trains alike whichever process runs it).",
    )
    objective_metric: Literal["test:mean_wQuantileLoss", "test:RMSE"] = Field(
        default=DEFAULT_OBJECTIVE, description="SageMaker DeepAR's objective, minimized on the test channel."
    )
    num_batches_per_epoch: int = Field(
        default=0,
        description="Local engine: batches per epoch; 0 is one pass over the series (series / mini_batch_size), "
        "which is what an epoch is in SageMaker DeepAR.",
    )
    num_eval_samples: int = Field(default=100, description="Sample paths drawn to estimate quantiles.")
    parallel_trials: int = Field(
        default=0,
        description="Local engine: trials run at once in worker processes (0: one per core). best_model also "
        "refits in a second process when this is not 1.",
    )
    prune: bool = Field(
        default=True,
        description="Local engine: stop a trial early when its held-out loss after an epoch is worse than the "
        "median of earlier trials at that epoch (Optuna's MedianPruner).",
    )
    id_fraction: float = Field(
        default=1.0,
        description="Local engine: tune on this share of the values of the spec's first id column (drawn with the "
        "seed), with all their series, then train the best hyperparameters on all series.",
    )
    search_space: SearchSpaceConfig | None = Field(
        default=None,
        description="The ranges searched, each in place of the dataset's default (its spec's tuning.search_space, "
        "else centred on what its data implies: context from the season and horizon, epochs from the series "
        "count). Unset: the default whole.",
    )

    def settings(self) -> TuningSettings:
        return TuningSettings(
            max_trials=self.max_trials,
            seed=self.seed,
            objective_metric=self.objective_metric,
            num_batches_per_epoch=self.num_batches_per_epoch,
            num_eval_samples=self.num_eval_samples,
            parallel_trials=self.parallel_trials,
            prune=self.prune,
            id_fraction=self.id_fraction,
        )
