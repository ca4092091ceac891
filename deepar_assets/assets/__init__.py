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

PIPELINE = ("raw_sales", "encoded_series", "s3_datasets", "tuning_run", "best_model")
"""The data and training assets, in lineage order."""


def pipeline_assets(spec: DatasetSpec) -> list[dg.AssetsDefinition]:
    """raw_sales → encoded_series → s3_datasets → tuning_run → best_model, for ``spec``."""
    return [*build_data_assets(spec), tuning_run, best_model]


def build_assets(spec: DatasetSpec) -> list[dg.AssetsDefinition]:
    """Every asset of the graph for ``spec``: the pipeline, then forecasts, backtest_report and
    scenario_forecasts."""
    return [*pipeline_assets(spec), *FORECASTING_ASSETS]


__all__ = ["PIPELINE", "build_assets", "pipeline_assets"]
