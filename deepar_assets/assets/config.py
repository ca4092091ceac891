"""Typed run config of the assets; the descriptions show in the launchpad of Dagster's UI."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from deepar_assets.domain.encoding import DEFAULT_FEATURES
from deepar_assets.domain.hyperparameters import (
    DEFAULT_OBJECTIVE,
    DEFAULT_SEARCH_SPACE,
    LIKELIHOODS,
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    SearchSpace,
)
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


def _int(name: str) -> IntRange:
    rng = DEFAULT_SEARCH_SPACE[name]
    return IntRange(min_value=rng.min_value, max_value=rng.max_value, scaling=rng.scaling)


def _float(name: str) -> FloatRange:
    rng = DEFAULT_SEARCH_SPACE[name]
    return FloatRange(min_value=rng.min_value, max_value=rng.max_value, scaling=rng.scaling)


class SearchSpaceConfig(dg.Config):
    """Ranges of SageMaker DeepAR's tunable hyperparameters (same names, same meaning)."""

    epochs: IntRange = Field(default=_int("epochs"), description="Passes over the training data.")
    context_length: IntRange = Field(default=_int("context_length"), description="Weeks the model sees before predicting.")
    num_cells: IntRange = Field(default=_int("num_cells"), description="Cells in each hidden layer of the RNN.")
    num_layers: IntRange = Field(default=_int("num_layers"), description="Hidden layers of the RNN.")
    learning_rate: FloatRange = Field(default=_float("learning_rate"), description="Learning rate.")
    dropout_rate: FloatRange = Field(default=_float("dropout_rate"), description="Dropout rate.")
    mini_batch_size: IntRange = Field(default=_int("mini_batch_size"), description="Series windows per batch.")
    embedding_dimension: IntRange = Field(
        default=_int("embedding_dimension"), description="Size of each category's embedding."
    )
    likelihood: list[str] = Field(
        default=list(DEFAULT_SEARCH_SPACE["likelihood"].values),
        description=f"Noise models to try, among {', '.join(LIKELIHOODS)} (negative-binomial and beta "
        "need non-negative sales; deterministic-L1 exists only on SageMaker).",
    )

    def to_space(self) -> SearchSpace:
        space: SearchSpace = {}
        for name in SearchSpaceConfig.model_fields:
            value = getattr(self, name)
            if isinstance(value, IntRange):
                space[name] = IntegerRange(value.min_value, value.max_value, value.scaling)
            elif isinstance(value, FloatRange):
                space[name] = ContinuousRange(value.min_value, value.max_value, value.scaling)
            else:
                space[name] = CategoricalRange(tuple(value))
        return space


class EncodingConfig(dg.Config):
    dynamic_features: list[str] = Field(
        default=list(DEFAULT_FEATURES),
        description="Dynamic features, in order, each with its declared fill and scaling policy "
        f"(choose from {', '.join(DEFAULT_FEATURES)}).",
    )


class DatasetConfig(dg.Config):
    prediction_length: int = Field(
        default=13,
        description="Weeks to forecast (h). validation = history to T, test = to T - h, train = to T - 2h.",
    )
    compress: bool = Field(
        default=False,
        description="Gzip the channels (train/data.json.gz, ...; SageMaker DeepAR reads them as they are). "
        "Smaller uploads; a different content, hence a different dataset version.",
    )
    rolling_origins: int = Field(
        default=1,
        description="Forecast origins in the test channel: more than 1 adds every series cut at earlier ends "
        "(rolling evaluation), so tuning scores several origins instead of one.",
    )
    origin_step: int = Field(default=0, description="Weeks between rolling origins (0: prediction_length).")


class TuningConfig(dg.Config):
    max_trials: int = Field(default=20, description="Trials in the hyperparameter search (SageMaker's max_jobs).")
    seed: int = Field(default=42, description="Seed of the search and of every trial (trial n uses seed + n).")
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
    store_fraction: float = Field(
        default=1.0,
        description="Local engine: tune on this share of the stores (drawn with the seed), then train the best "
        "hyperparameters on all series.",
    )
    search_space: SearchSpaceConfig = Field(default=SearchSpaceConfig(), description="The ranges searched.")

    def settings(self) -> TuningSettings:
        return TuningSettings(
            max_trials=self.max_trials,
            seed=self.seed,
            objective_metric=self.objective_metric,
            num_batches_per_epoch=self.num_batches_per_epoch,
            num_eval_samples=self.num_eval_samples,
            parallel_trials=self.parallel_trials,
            prune=self.prune,
            store_fraction=self.store_fraction,
        )
