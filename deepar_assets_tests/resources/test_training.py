"""The training resource: local by default; sagemaker built from the environment at run time."""

from __future__ import annotations

import boto3
import dagster as dg
import pytest

from deepar_assets.assets.config import IntRange, SearchSpaceConfig, TuningConfig
from deepar_assets.domain.encoding import encode
from deepar_assets.domain.hyperparameters import DEFAULT_SEARCH_SPACE
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec.load import load_spec
from deepar_assets.engines.base import TuningSettings
from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.datasets import publish_dataset
from deepar_assets.storage.local import FolderStore
from deepar_assets_tests.engines.datasets import MONTHLY, publish_shape
from deepar_assets_tests.engines.sagemaker_scenarios import DEEPAR_US_EAST_1, ROLE, on_s3


@pytest.fixture
def dataset(aws_env, tmp_path, small_source):
    store = FolderStore(tmp_path / "published")
    encoded = encode(read_dataset(load_spec("synthetic"), small_source))
    ref = publish_dataset(store, encoded, prediction_length=4).ref
    return on_s3(ref, store, boto3.client("s3"))


def test_local_stays_the_default(tmp_path):
    """No AWS involved: unset DEEPAR_BACKEND means the local engine."""
    from deepar_assets.engines.local import LocalEngine

    assert TrainingResource().resolved_backend() == "local"
    assert isinstance(TrainingResource().engine(FolderStore(tmp_path)), LocalEngine)


def test_sagemaker_without_a_role_says_what_to_set(monkeypatch, tmp_path):
    """No AWS involved: the error names SAGEMAKER_ROLE_ARN and where the policies are,
    whether the backend comes from config or from DEEPAR_BACKEND."""
    monkeypatch.delenv("SAGEMAKER_ROLE_ARN", raising=False)
    expected = r"set SAGEMAKER_ROLE_ARN=arn:aws:iam::<account>:role/<name> \(deploy/iam/"
    with pytest.raises(ConfigurationError, match=expected):
        TrainingResource(backend="sagemaker").engine(FolderStore(tmp_path))
    monkeypatch.setenv("DEEPAR_BACKEND", "sagemaker")
    with pytest.raises(ConfigurationError, match=expected):
        TrainingResource().engine(FolderStore(tmp_path))
    monkeypatch.setenv("SAGEMAKER_ROLE_ARN", "deepar-role")
    with pytest.raises(
        ConfigurationError, match=r"\(11 characters\) does not start with arn:; expected an IAM role ARN"
    ):
        TrainingResource().engine(FolderStore(tmp_path))


def test_sagemaker_without_a_region_says_what_to_set(monkeypatch, tmp_path):
    """No AWS involved: no region anywhere (env, profile) → a clear error, not botocore's."""
    empty = tmp_path / "aws-config"
    empty.write_text("")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    with pytest.raises(ConfigurationError, match="needs an AWS region: set AWS_REGION"):
        TrainingResource(backend="sagemaker", role_arn=ROLE).engine(FolderStore(tmp_path))


def test_sagemaker_engine_is_built_from_the_environment(aws_env, monkeypatch, dataset, tmp_path):
    """moto HTTP: AWS_ENDPOINT_URL/AWS_REGION and SAGEMAKER_ROLE_ARN are read when the engine
    is built; the resource's config reaches the request SageMaker stores."""
    monkeypatch.setenv("SAGEMAKER_ROLE_ARN", ROLE)
    resource = TrainingResource(
        backend="sagemaker",
        instance_type="ml.m5.2xlarge",
        instance_count=2,
        max_parallel_jobs=4,
        max_runtime_hours=0.5,
        poll_seconds=5,
        max_attempts=3,
        instance_prices={"ml.m5.2xlarge": 0.5},
    )
    engine = resource.engine(FolderStore(tmp_path))
    assert engine.name == "sagemaker"
    assert engine.client.meta.endpoint_url == aws_env and engine.region == "us-east-1"
    assert engine.client.meta.config.retries["total_max_attempts"] == 3
    assert engine.settings.poll_interval_s == 5 and engine.settings.max_runtime_s == 1800

    launch = engine.launch(dataset, DEFAULT_SEARCH_SPACE, TuningSettings(max_trials=6), print)
    assert launch.cost.usd == 6 * 2 * 0.5 * 0.5
    job = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=launch.name)
    assert job["TrainingJobDefinition"]["RoleArn"] == ROLE
    assert job["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] == DEEPAR_US_EAST_1
    assert job["TrainingJobDefinition"]["ResourceConfig"]["InstanceType"] == "ml.m5.2xlarge"
    assert job["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 6,
        "MaxParallelTrainingJobs": 4,
    }


def test_tuning_run_asset_refuses_above_the_cost_ceiling(aws_env, monkeypatch, dataset, tmp_path):
    """moto HTTP, through Dagster: the tuning_run asset with the sagemaker backend and a low
    ceiling fails with the figures, and no tuning job exists afterwards."""
    from deepar_assets.assets.training import tuning_run

    monkeypatch.setenv("SAGEMAKER_ROLE_ARN", ROLE)
    with pytest.raises(ConfigurationError, match=r"\$8.16, above the ceiling max_cost_usd=\$5.00"):
        tuning_run(
            dg.build_asset_context(),
            config=TuningConfig(),
            s3_datasets=dataset,
            storage=StorageResource(location=dataset.storage_uri),  # where s3_datasets published it
            training=TrainingResource(backend="sagemaker", max_cost_usd=5.0),
        )
    assert boto3.client("sagemaker").list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []


def test_the_sagemaker_run_config_is_valid_for_the_job():
    """No AWS involved: configs/sagemaker.yaml validates against the job's config schema."""
    from pathlib import Path

    import yaml

    from deepar_assets.definitions import defs

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "sagemaker.yaml").read_text())
    job = defs.resolve_implicit_global_asset_job_def()
    assert dg.validate_run_config(job, config)
    assert config["resources"]["training"]["config"]["backend"] == "sagemaker"


def test_tuning_run_asset_searches_the_datasets_default_with_the_run_configs_ranges(tmp_path):
    """Local engine, through the asset: a monthly dataset whose spec declares no space gets
    the one its data implies (context around its season and horizon), except the ranges the
    run config gives; the metadata shows the space and where it came from."""
    from deepar_assets.assets.training import tuning_run

    store_dir = tmp_path / "store"
    dataset = publish_shape(FolderStore(store_dir), MONTHLY)
    config = TuningConfig(
        max_trials=1,
        num_batches_per_epoch=2,
        num_eval_samples=10,
        parallel_trials=1,
        search_space=SearchSpaceConfig(epochs=IntRange(min_value=1, max_value=1)),
    )
    with dg.build_asset_context() as context:
        output = tuning_run(
            context,
            config=config,
            s3_datasets=dataset,
            storage=StorageResource(location=str(store_dir)),
            training=TrainingResource(
                backend="local", work_dir=str(tmp_path / "work"), study_db=str(tmp_path / "s.db")
            ),
        )
    space = output.metadata["search_space"].value
    assert space["epochs"] == {"min_value": 1, "max_value": 1, "scaling": "Auto"}
    context_length = max(MONTHLY.h, min(12, 4 * MONTHLY.h))  # the spec's season 12, the dataset's horizon
    assert space["context_length"]["min_value"] < context_length < space["context_length"]["max_value"]
    assert space["likelihood"] == ["student-T"]  # real-valued targets
    origin = output.metadata["search_space_origin"].value
    assert origin.startswith("run config: epochs; the rest: implied by the aus_retail data (season 12, horizon 6")
    trial = output.value.trials[0]
    assert trial.state == "COMPLETE", trial.error
    assert trial.hyperparameters["epochs"] == 1
    lo, hi = space["context_length"]["min_value"], space["context_length"]["max_value"]
    assert lo <= trial.hyperparameters["context_length"] <= hi
