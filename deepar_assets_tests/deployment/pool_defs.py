"""A code location for the pool test: a slow step in the training pool, like tuning_run, and a
quick one in no pool, like the weekly refresh; each records when it ran."""

import time

import dagster as dg

from deepar_assets.constants import TRAINING_POOL
from deepar_assets.definitions import PIPELINE_JOB


@dg.asset(pool=TRAINING_POOL)
def slow_training() -> dg.MaterializeResult:
    started = time.time()
    time.sleep(4)
    return dg.MaterializeResult(metadata={"started": started, "ended": time.time()})


@dg.asset
def refresh() -> dg.MaterializeResult:
    started = time.time()
    time.sleep(0.5)
    return dg.MaterializeResult(metadata={"started": started, "ended": time.time()})


defs = dg.Definitions(
    assets=[slow_training, refresh],
    jobs=[dg.define_asset_job(PIPELINE_JOB, selection=dg.AssetSelection.all())],
)

if __name__ == "__main__":
    import sys

    from deepar_assets.launch import launch

    _, success = launch(sys.argv[1], definitions=defs)
    raise SystemExit(0 if success else 1)
