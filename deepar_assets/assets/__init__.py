"""The assets of the graph, built for a dataset spec (the time partitions of raw_sales come
from it): raw_sales, encoded_series, s3_datasets, tuning_run, best_model and the forecasting
assets."""

import warnings

import dagster as dg

# backfill_policy is how a partition range runs as one run (the bulk history, and the
# CLI's --partition-range); it is marked beta, and saying so at every import is noise.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")

from deepar_assets.assets.data import build_data_assets  # noqa: E402
from deepar_assets.assets.forecasting import FORECASTING_ASSETS  # noqa: E402
from deepar_assets.assets.training import best_model, tuning_run  # noqa: E402
from deepar_assets.domain.spec import DatasetSpec  # noqa: E402

OWNERS = ["team:demand-forecasting"]
"""Who answers for the assets (Dagster's owners: the catalog filters and shows them)."""

KINDS: dict[str, set[str]] = {
    "raw_sales": {"pandas", "parquet"},
    "encoded_series": {"pandas", "numpy"},
    "s3_datasets": {"s3", "json"},
    "tuning_run": {"pytorch", "sagemaker", "optuna"},
    "best_model": {"pytorch", "sagemaker"},
    "combination": {"pytorch", "statsforecast", "parquet"},
    "forecasts": {"pytorch", "parquet", "csv"},
    "backtest_report": {"pytorch", "statsforecast", "parquet"},
    "scenario_forecasts": {"pytorch", "parquet"},
    "forecast_accuracy": {"pandas", "parquet"},
}
"""What each asset is made with and stored as (Dagster shows at most three kinds per asset):
the local engine's PyTorch or SageMaker (the backend is chosen at run time), and the formats
in the store (a folder, or S3 with ``DEEPAR_STORAGE=s3://…``)."""

PIPELINE = ("raw_sales", "encoded_series", "s3_datasets", "tuning_run", "best_model")
"""The data and training assets, in lineage order."""


def pipeline_assets(spec: DatasetSpec) -> list[dg.AssetsDefinition]:
    """raw_sales → encoded_series → s3_datasets → tuning_run → best_model, for ``spec``."""
    return [*build_data_assets(spec), tuning_run, best_model]


def _described(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(kinds=KINDS[spec.key.to_user_string()], owners=OWNERS)


def build_assets(spec: DatasetSpec) -> list[dg.AssetsDefinition]:
    """Every asset of the graph for ``spec``: the pipeline, then forecasts, backtest_report and
    scenario_forecasts, with their kinds and owners."""
    return [a.map_asset_specs(_described) for a in [*pipeline_assets(spec), *FORECASTING_ASSETS]]


__all__ = ["KINDS", "OWNERS", "PIPELINE", "build_assets", "pipeline_assets"]
