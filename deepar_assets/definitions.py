"""The composition root: the only place where assets, resources and jobs are connected.

Resources read the deployment's environment (DEEPAR_SOURCE, DEEPAR_LANDING, DEEPAR_STORAGE,
DEEPAR_BACKEND, …) when they are used in a run, never when this module is imported. These
settings are read when the code location loads, because they are part of the definitions:
DEEPAR_DATASET (the dataset spec: the time partitions of raw_sales and the landing drops follow
it), DEEPAR_TUNING_POLICY (automation conditions) and DEEPAR_FORECAST_LATE_HOURS (when a
forecast is late: the freshness check, its sensor and policy); DEEPAR_GIT_URL and DEEPAR_GIT_BRANCH, when
set, point the assets' code references at a repository.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dagster as dg

from deepar_assets.assets import build_assets
from deepar_assets.assets.forecasting import FORECASTING_CHECKS
from deepar_assets.assets.forecasting.freshness import (
    FORECASTS,
    LATE_HOURS_VARIABLE,
    build_freshness,
    freshness_policy,
    late_hours,
)
from deepar_assets.automation import POLICY_VARIABLE, RAW_SALES, TuningPolicy, automation_sensor, with_automation
from deepar_assets.domain.spec import DATASET_VARIABLE, load_spec, spec_path
from deepar_assets.resources.handover import HandoverIOManager
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.sensors.landing import build_landing_sensor

PIPELINE_JOB = "deepar_pipeline"
GIT_URL_VARIABLE = "DEEPAR_GIT_URL"
GIT_BRANCH_VARIABLE = "DEEPAR_GIT_BRANCH"


def local_resources(dataset: str | None = None) -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManager]:
    """The embedded defaults; each resource falls back on its DEEPAR_* variable at run time,
    except the source's dataset spec, which is the one the definitions were built for. What a
    step hands to the next goes into the same store (S3 or a folder), never to a disk the next
    step may not share."""
    storage = StorageResource()
    return {
        "source": SalesSource(dataset=dataset),
        "storage": storage,
        "training": TrainingResource(),
        "io_manager": HandoverIOManager(storage=storage),
    }


def with_code_references(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """Each asset linked to its source: the local file and line (the UI opens it), or with
    $DEEPAR_GIT_URL (e.g. https://github.com/acme/deepar-assets) the file at
    $DEEPAR_GIT_BRANCH (default main) in that repository, for a deployment whose UI has no
    checkout beside it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # code references are beta in dagster 1.13
        linked = dg.with_source_code_references(assets)
        git_url = os.environ.get(GIT_URL_VARIABLE)
        if git_url:
            linked = dg.link_code_references_to_git(
                linked,
                git_url=git_url,
                git_branch=os.environ.get(GIT_BRANCH_VARIABLE) or "main",
                file_path_mapping=dg.AnchorBasedFilePathMapping(
                    local_file_anchor=Path(__file__).resolve().parents[1], file_anchor_path_in_repository=""
                ),
            )
    return [a for a in linked if isinstance(a, dg.AssetsDefinition)]


def build_definitions(dataset: str | None = None, tuning_policy: str | None = None) -> dg.Definitions:
    """The code location for a dataset spec (``dataset``: a shipped name or a path, else
    $DEEPAR_DATASET, else the synthetic dataset's), with its assets and their automation (the
    tuning policy from ``tuning_policy``, else $DEEPAR_TUNING_POLICY), when forecasts are late
    ($DEEPAR_FORECAST_LATE_HOURS: the freshness policy, check and sensor), the local resources
    with the IO manager that hands values over through the store, the landing sensor and the
    automation sensor. These settings are read here, when the location loads."""
    # Absolute, so that a run started from another working directory reads the file loaded here.
    path = spec_path(os.environ.get(DATASET_VARIABLE) if dataset is None else dataset).resolve()
    spec = load_spec(str(path))
    policy = TuningPolicy.parse(os.environ.get(POLICY_VARIABLE) if tuning_policy is None else tuning_policy)
    # forecasts follows a new model or new data (automation.FOLLOWERS); backtest_report and
    # scenario_forecasts run when asked. The blocking check on combination gates all three.
    hours = late_hours(os.environ.get(LATE_HOURS_VARIABLE))
    assets = with_code_references(with_automation(build_assets(spec), policy))
    fresh = freshness_policy(spec, hours)
    assets = [
        a.map_asset_specs(lambda s: s.replace_attributes(freshness_policy=fresh) if s.key == FORECASTS else s)
        for a in assets
    ]
    freshness_check, freshness_sensor = build_freshness(hours)
    [raw_sales] = [a for a in assets if RAW_SALES in a.keys]
    pipeline_job = dg.define_asset_job(
        PIPELINE_JOB, selection=dg.AssetSelection.all(), description="Materialize the whole graph."
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=[*FORECASTING_CHECKS, freshness_check],
        resources=local_resources(str(path)),
        jobs=[pipeline_job],
        sensors=[build_landing_sensor(spec, raw_sales), automation_sensor(assets), freshness_sensor],
    )


defs = build_definitions()
