"""The whole graph with its storage on S3 (moto's server over HTTP), with real (tiny) training."""

from __future__ import annotations

import copy
import gzip
import json
import os

import dagster as dg
import pytest

from deepar_assets.assets import pipeline_assets
from deepar_assets.domain.spec import load_spec
from deepar_assets.engines.local import LocalEngine
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource, s3_client
from deepar_assets.resources.training import TrainingResource
from deepar_assets_tests.assets.test_pipeline import TINY_RUN_CONFIG
from deepar_assets_tests.conftest import SMALL_SPEC, materialize_partitions, synthetic_range

BUCKET = "deepar-pipeline"
PREFIX = "runs/one"
SECRET = "wJalrXUtnFEMI-never-shown-8f3a"  # a fake secret key, to look for in everything the run left
KEY_ID = "AKIATESTNEVERSHOWN01"
ASSETS = pipeline_assets(load_spec("synthetic"))


def _metadata(result, key: str) -> dict:
    events = result.asset_materializations_for_node(key)
    assert events, f"{key} was not materialized"
    return {k: v.value for k, v in events[-1].metadata.items()}


@pytest.fixture(scope="module")
def s3_run(moto_endpoint, tmp_path_factory):
    """One run of the whole graph for the module (training takes seconds): the usual AWS
    variables pointed at moto, as the aws_env fixture does, with credentials to look for."""
    from deepar_assets_tests.aws import REGION, reset

    tmp_path = tmp_path_factory.mktemp("pipeline_s3")
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("DEEPAR_")] + ["AWS_PROFILE", "AWS_SESSION_TOKEN"]:
            env.delenv(name, raising=False)
        env.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
        env.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        env.setenv("AWS_REGION", REGION)
        env.setenv("DEEPAR_STORAGE", f"s3://{BUCKET}/{PREFIX}")  # read when the run uses it
        reset(moto_endpoint)
        yield _run(tmp_path)


def _run(tmp_path):
    client = s3_client(max_attempts=3)
    client.create_bucket(Bucket=BUCKET)
    resources = {
        "source": SalesSource(
            synthetic_dir=str(tmp_path / "synthetic"),
            synthetic_stores=SMALL_SPEC.n_stores,
            synthetic_depts=SMALL_SPEC.n_depts,
            synthetic_weeks=SMALL_SPEC.n_weeks,
            synthetic_seed=SMALL_SPEC.seed,
        ),
        "storage": StorageResource(sse="AES256", max_attempts=3),
        "training": TrainingResource(work_dir=str(tmp_path / "work"), study_db=str(tmp_path / "optuna.db")),
    }
    run_config = copy.deepcopy(TINY_RUN_CONFIG)
    run_config["ops"]["s3_datasets"]["config"]["compress"] = True
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_partitions(
        ASSETS, *synthetic_range(SMALL_SPEC), resources=resources, run_config=run_config, instance=instance
    )
    return client, resources, run_config, instance, result, tmp_path


def test_whole_graph_on_s3(s3_run, monkeypatch):
    client, resources, run_config, instance, result, tmp_path = s3_run
    monkeypatch.setenv("DEEPAR_STORAGE", f"s3://{BUCKET}/{PREFIX}")  # the autouse fixture cleared it
    assert result.success
    root = f"s3://{BUCKET}/{PREFIX}"

    datasets = _metadata(result, "s3_datasets")
    version = datasets["version"]
    assert datasets["uri"] == f"{root}/datasets/{version}"
    assert datasets["storage"] == root and datasets["compressed"] is True
    for channel in ("train", "test", "validation"):
        key = f"{PREFIX}/datasets/{version}/{channel}/data.json.gz"
        assert datasets[f"{channel}_uri"] == f"s3://{BUCKET}/{key}"
        head = client.head_object(Bucket=BUCKET, Key=key)
        assert head["ContentLength"] == datasets[f"{channel}_bytes"]
        assert head["ServerSideEncryption"] == "AES256"
        lines = gzip.decompress(client.get_object(Bucket=BUCKET, Key=key)["Body"].read()).splitlines()
        assert len(lines) == datasets[f"{channel}_series"] > 0
        assert set(json.loads(lines[0])) == {"start", "target", "cat", "dynamic_feat"}
    manifest = json.loads(
        client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/datasets/{version}/manifest.json")["Body"].read()
    )
    assert set(manifest["objects"]) == {
        "encoding.json",
        *(f"{c}/data.json.gz" for c in ("train", "test", "validation")),
    }

    model = _metadata(result, "best_model")
    model_id = model["model_id"]
    assert model["model_uri"] == f"{root}/models/{model_id}"
    card = json.loads(client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/models/{model_id}/model.json")["Body"].read())
    assert card["data_version"] == version and card["dataset_uri"] == f"{root}/datasets/{version}"
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/models/{model_id}/predictor/")
    assert f"{PREFIX}/models/{model_id}/predictor/prediction-net-state.pt" in {o["Key"] for o in listed["Contents"]}
    # The saved model comes back from S3 and forecasts.
    store = resources["storage"].store()
    predictor = LocalEngine(store, tmp_path / "load").load(model_id)
    assert predictor.prediction_length == 4

    # The same data again: the same version, nothing uploaded.
    again = dg.materialize(
        ASSETS[1:3], resources=resources, run_config={"ops": {"s3_datasets": run_config["ops"]["s3_datasets"]}}
    )  # encoded_series and s3_datasets again, on the raw partitions already in the bucket
    assert _metadata(again, "s3_datasets")["version"] == version
    assert _metadata(again, "s3_datasets")["objects_uploaded"] == 0


def test_credentials_appear_nowhere_in_the_run(s3_run):
    _, _, _, instance, result, _ = s3_run
    assert result.success
    records = instance.all_logs(result.run_id)
    assert records
    text = "\n".join(dg.serialize_value(record) for record in records)
    text += dg.serialize_value(instance.get_run_by_id(result.run_id))
    assert "s3://deepar-pipeline/runs/one" in text  # the places are there ...
    assert SECRET not in text and KEY_ID not in text  # ... the credentials are not
