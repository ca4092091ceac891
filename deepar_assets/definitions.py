"""The composition root: the only place where assets, resources and jobs are connected.

Resources read the deployment's environment (DEEPAR_SOURCE, DEEPAR_LANDING, DEEPAR_STORAGE,
DEEPAR_BACKEND, …) when they are used in a run, never when this module is imported. The one
setting read when the code location loads is DEEPAR_TUNING_POLICY, because automation
conditions are part of the definitions.
"""

from __future__ import annotations

import os

import dagster as dg

from deepar_assets.assets.data import encoded_series, raw_sales, s3_datasets
from deepar_assets.assets.forecasting import FORECASTING_ASSETS, FORECASTING_CHECKS
from deepar_assets.assets.training import best_model, tuning_run
from deepar_assets.automation import POLICY_VARIABLE, TuningPolicy, automation_sensor, with_automation
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.sensors.landing import landing_zone_sensor

ASSETS = [raw_sales, encoded_series, s3_datasets, tuning_run, best_model]


def local_resources() -> dict[str, dg.ConfigurableResource]:
    """The embedded defaults; each resource falls back on its DEEPAR_* variable at run time."""
    return {"source": SalesSource(), "storage": StorageResource(), "training": TrainingResource()}


pipeline_job = dg.define_asset_job(
    "deepar_pipeline", selection=dg.AssetSelection.all(), description="Materialize the whole graph."
)


def build_definitions(tuning_policy: str | None = None) -> dg.Definitions:
    """The code location: the assets with their automation (the tuning policy from
    ``tuning_policy``, else $DEEPAR_TUNING_POLICY, read here, when the location loads), the
    local resources, the landing sensor and the automation sensor."""
    policy = TuningPolicy.parse(os.environ.get(POLICY_VARIABLE) if tuning_policy is None else tuning_policy)
    # forecasts follows a new model or new data (automation.FOLLOWERS); backtest_report and
    # scenario_forecasts run when asked. The blocking check on best_model gates all three.
    assets = with_automation([*ASSETS, *FORECASTING_ASSETS], policy)
    return dg.Definitions(
        assets=assets,
        asset_checks=FORECASTING_CHECKS,
        resources=local_resources(),
        jobs=[pipeline_job],
        sensors=[landing_zone_sensor, automation_sensor(assets)],
    )


defs = build_definitions()
