"""The composition root: the only place where assets, resources and jobs are connected.

Resources read the deployment's environment (DEEPAR_SOURCE, DEEPAR_STORAGE, DEEPAR_BACKEND,
…) when they are used in a run, never when this module is imported.
"""

from __future__ import annotations

import dagster as dg

from deepar_assets.assets.data import encoded_series, raw_sales, s3_datasets
from deepar_assets.assets.training import best_model, tuning_run
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource

ASSETS = [raw_sales, encoded_series, s3_datasets, tuning_run, best_model]


def local_resources() -> dict[str, dg.ConfigurableResource]:
    """The embedded defaults; each resource falls back on its DEEPAR_* variable at run time."""
    return {"source": SalesSource(), "storage": StorageResource(), "training": TrainingResource()}


pipeline_job = dg.define_asset_job(
    "deepar_pipeline", selection=dg.AssetSelection.all(), description="Materialize the whole graph."
)

defs = dg.Definitions(assets=ASSETS, resources=local_resources(), jobs=[pipeline_job])
