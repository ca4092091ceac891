"""The graph as a deployment runs it: each step in its own process with its own empty working
directory, temp dir and Dagster home (as pods of the K8s run launcher would be), the instance on
a real PostgreSQL server, the data and everything handed between steps on S3 (moto's server).
Each step's local folders are deleted when it ends, so no step can read a file another wrote."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys

import dagster as dg
import pytest
import yaml

from deepar_assets.assets.forecasting.freshness import FRESHNESS_CHECK_KEY
from deepar_assets.resources.handover import handover_key
from deepar_assets_tests.deployment.conftest import fresh_database, postgres_home
from deepar_assets_tests.forecasting.conftest import run_config

BUCKET = "deepar-deploy"
STEPS = [
    "raw_sales",
    "encoded_series",
    "s3_datasets",
    "tuning_run",
    "best_model",
    "combination",
    "forecasts",
    "backtest_report",
    "scenario_forecasts",
    "forecast_accuracy",
]


def _upload(client, folder, prefix: str) -> None:
    for path in sorted(folder.iterdir()):
        if path.is_file():
            client.upload_file(str(path), BUCKET, f"{prefix}/{path.name}")


@pytest.fixture(scope="module")
def deployed(postgres, moto_endpoint, grown_source, tmp_path_factory):
    from deepar_assets.resources.storage import s3_client
    from deepar_assets_tests.aws import REGION, reset

    reset(moto_endpoint)
    root = tmp_path_factory.mktemp("deployed")
    aws = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in aws.items():
            patch.setenv(name, value)
        client = s3_client(max_attempts=3)
        client.create_bucket(Bucket=BUCKET)
        _upload(client, grown_source, "source")
    database = fresh_database(postgres)
    config = root / "run_config.yaml"
    config.write_text(yaml.safe_dump(run_config()))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPAR_", "DAGSTER_", "AWS_"))}
    env = {
        **base,
        **aws,
        **database,
        "DEEPAR_STORAGE": f"s3://{BUCKET}/store",
        "DEEPAR_SOURCE": f"s3://{BUCKET}/source",
        "DEEPAR_DATASET": "synthetic",
    }
    steps = {}
    for step in STEPS:
        box = root / step
        cwd, tmp, home = box / "cwd", box / "tmp", postgres_home(box / "dagster_home")
        cwd.mkdir()
        tmp.mkdir()
        done = subprocess.run(
            [sys.executable, "-m", "deepar_assets.launch", "--select", step, "-c", str(config)],
            cwd=cwd,
            env={**env, "DAGSTER_HOME": str(home), "TMPDIR": str(tmp), "HOME": str(cwd)},
            capture_output=True,
            text=True,
            timeout=600,
        )
        left = sorted(str(p.relative_to(box)) for p in box.rglob("*") if p.is_file())
        steps[step] = (done, left)
        assert done.returncode == 0, f"{step} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        shutil.rmtree(box)  # nothing this step wrote locally survives it
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**aws, **database}.items():
            patch.setenv(name, value)
        home = postgres_home(root / "reader_home")
        patch.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            yield steps, client, instance


def test_every_step_ran_in_its_own_process_and_reported_to_the_postgres_instance(deployed):
    steps, _, instance = deployed
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    runs = instance.get_runs()
    assert len(runs) == len(STEPS) and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    for step in STEPS:
        done, _ = steps[step]
        assert f"✓ {step} (" in done.stdout, done.stdout
        event = instance.get_latest_materialization_event(dg.AssetKey(step))
        assert event is not None, f"{step} has no materialization in the instance"
    gate = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("combination"), "beats_seasonal_naive")]
    )
    assert gate, "the gate did not run with combination"
    fresh = instance.event_log_storage.get_latest_asset_check_execution_by_key([FRESHNESS_CHECK_KEY])
    assert fresh[FRESHNESS_CHECK_KEY].evaluation.passed, "forecast_is_fresh did not pass with forecasts"


def test_what_a_step_hands_over_is_on_s3_never_on_its_local_disk(deployed):
    steps, client, instance = deployed
    for step in STEPS[1:]:  # raw_sales stores its partitions itself and hands nothing over
        event = instance.get_latest_materialization_event(dg.AssetKey(step))
        uri = event.asset_materialization.metadata["handover"].value
        key = f"store/{handover_key(dg.AssetKey(step))}"
        assert uri == f"s3://{BUCKET}/{key}"
        assert pickle.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read()) is not None
        _, left = steps[step]
        assert not [path for path in left if "handover" in path or path.endswith(".pickle")], left
    model = pickle.loads(
        client.get_object(Bucket=BUCKET, Key=f"store/{handover_key(dg.AssetKey('best_model'))}")["Body"].read()
    )
    assert model.uri.startswith(f"s3://{BUCKET}/store/models/")
    published = instance.get_latest_materialization_event(dg.AssetKey("forecasts")).asset_materialization.metadata
    csv = published["csv_uri"].value
    assert csv.startswith(f"s3://{BUCKET}/store/forecasts/")
    assert client.head_object(Bucket=BUCKET, Key=csv.removeprefix(f"s3://{BUCKET}/"))["ContentLength"] > 0
