"""The SageMaker engine, proven against two things, and each test says which:

- **moto HTTP**: moto's server mode on 127.0.0.1 (fixture ``aws_env``), reached by a real
  boto3 client over HTTP. What it proves: the requests are valid for botocore's SageMaker
  model, accepted by an endpoint, and stored as meant — read back with Describe* calls
  (image, hyperparameters, ranges, objective, channels, role, output path, limits, warm start;
  models and model packages). The channel URIs are checked against objects in moto's S3.
- **Stubber**: botocore's Stubber on a real boto3 client, for what moto cannot act out: a
  tuning job that progresses, fails, is stopped, lists its training jobs, or has a realistic
  best job. Every stubbed answer is validated against SageMaker's API model by botocore.

Nothing here needs AWS credentials or a network beyond 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import json

import boto3
import dagster as dg
import pytest
from botocore.stub import Stubber

from deepar_assets.domain.encoding import encode
from deepar_assets.domain.hyperparameters import (
    DEFAULT_SEARCH_SPACE,
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    split_fixed,
)
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec.load import load_spec
from deepar_assets.engines.base import TuningResult, TuningSettings
from deepar_assets.engines.sagemaker import (
    DEFAULT_PRICES,
    SageMakerEngine,
    SageMakerSettings,
    build_tuning_request,
    cost_bound,
    deepar_image_uri,
    deepar_time_freq,
    model_name_for,
    tuning_job_name,
)
from deepar_assets.errors import ConfigurationError, TrainingError
from deepar_assets.storage.datasets import publish_dataset
from deepar_assets.storage.local import FolderStore
from deepar_assets_tests.engines.datasets import DAILY_COUNTS, MONTHLY, publish_shape
from deepar_assets_tests.engines.sagemaker_scenarios import (
    BUCKET,
    DEEPAR_US_EAST_1,
    PREFIX,
    ROLE,
    completed_run,
    description,
    expected_name,
    on_s3,
    stub_describes,
    stub_launch,
    stub_trials,
    stubbed_client,
    training_job_description,
)

TUNING = TuningSettings(max_trials=20, seed=42)
QUIET = TuningSettings(max_trials=4, seed=7)


def no_sleep(seconds: float) -> None:
    assert seconds == 0


@pytest.fixture(scope="module")
def published(tmp_path_factory, small_source):
    """A real dataset version of the synthetic spec (3 stores × 5 departments, weekly, with
    covariates), read, encoded and published to a folder first."""
    store = FolderStore(tmp_path_factory.mktemp("published"))
    encoded = encode(read_dataset(load_spec("synthetic"), small_source))
    return publish_dataset(store, encoded, prediction_length=4).ref, store


@pytest.fixture
def s3(aws_env):
    return boto3.client("s3")


@pytest.fixture
def dataset(published, s3):
    ref, store = published
    return on_s3(ref, store, s3)


@pytest.fixture
def sm(aws_env):
    return boto3.client("sagemaker")


@pytest.fixture
def cards(tmp_path):
    return FolderStore(tmp_path / "cards")


def on_s3_ref(ref):
    """The reference as if the dataset were in S3 (for pure request building)."""
    return dataclasses.replace(ref, storage_uri=f"s3://{BUCKET}/{PREFIX}")


def settings(**overrides) -> SageMakerSettings:
    return SageMakerSettings(**{"role_arn": ROLE, "poll_interval_s": 0, **overrides})


def moto_engine(sm, cards, **overrides) -> SageMakerEngine:
    return SageMakerEngine(sm, cards, settings(**overrides), sleep=no_sleep)


# -- pure pieces --------------------------------------------------------------------------
def test_image_uri_comes_from_the_sagemaker_sdk_for_each_region():
    """sagemaker SDK (offline lookup): the documented DeepAR images of two regions."""
    assert deepar_image_uri("us-east-1") == DEEPAR_US_EAST_1
    assert deepar_image_uri("eu-west-1") == "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1"
    with pytest.raises(ConfigurationError, match="no SageMaker DeepAR image for region 'xx-nowhere-1'"):
        deepar_image_uri("xx-nowhere-1")


def test_time_freq_and_names():
    """Pure functions: DeepAR's time_freq from the dataset's pandas alias; deterministic names
    within SageMaker's limits."""
    assert [deepar_time_freq(f) for f in ("W-FRI", "W-SUN", "W", "MS", "ME", "M", "D", "h", "H")] == [
        "W",
        "W",
        "W",
        "M",
        "M",
        "M",
        "D",
        "H",
        "H",
    ]
    for refused in ("Q-DEC", "QE", "B", "2W", "YE", "fortnightly"):
        with pytest.raises(ConfigurationError, match="time_freq takes M, W, D, H or min"):
            deepar_time_freq(refused)
    request = {"a": 1}
    name = tuning_job_name("0123456789abcdef", request)
    assert name == tuning_job_name("0123456789abcdef", {"a": 1}) and name.startswith("deepar-01234567-")
    assert tuning_job_name("0123456789abcdef", {"a": 2}) != name
    assert tuning_job_name("0123456789abcdef", request, attempt=9) == f"{name}-9"
    assert len(tuning_job_name("f" * 64, request, attempt=9)) <= 32
    assert len(model_name_for("f" * 64, name, f"{name}-020-abcdef12")) <= 63


NAME_CHECKS = """
from deepar_assets.engines.sagemaker import model_name_for, tuning_job_name
from deepar_assets.engines.sagemaker.transform import transform_job_name
from deepar_assets.errors import ConfigurationError
for make in (
    lambda: tuning_job_name("v1_2012x", {"a": 1}),
    lambda: tuning_job_name("0123456789abcdef", {"a": 1}, attempt=10**7),
    lambda: model_name_for("v1.2012x", "t", "j"),
    lambda: transform_job_name("m", "d", attempt=10 ** 40),
):
    try:
        make()
    except ConfigurationError as exc:
        print(exc)
    else:
        raise SystemExit("accepted")
"""


def test_names_sagemaker_would_refuse_are_errors_even_under_python_O():
    """The name checks are real errors, not asserts: ``python -O`` keeps them. Each names the
    name, its length and what SageMaker takes."""
    import subprocess
    import sys

    with pytest.raises(ConfigurationError, match=r"tuning job name 'deepar-v1_2012x-[0-9a-f]{8}' \(24 characters\)"):
        tuning_job_name("v1_2012x", {"a": 1})
    with pytest.raises(ConfigurationError, match=r"\(33 characters\): expected at most 32 characters"):
        tuning_job_name("0123456789abcdef", {"a": 1}, attempt=10**7)  # deepar-01234567-<8>-10000000
    done = subprocess.run([sys.executable, "-O", "-c", NAME_CHECKS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(" name ")[0] for line in lines] == [
        "SageMaker tuning job",
        "SageMaker tuning job",
        "SageMaker model",
        "SageMaker transform job",
    ]
    assert "(33 characters): expected at most 32 characters" in lines[1] and "at most 63" in lines[3]


def test_a_malformed_role_arn_is_refused_without_echoing_it():
    secret = "AKIAIOSFODNN7EXAMPLE/wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    for value, problem in (
        (secret, f"the value ({len(secret)} characters) does not start with arn:"),
        ("arn:aws:iam::12345:role/x", "has no 12-digit account id"),
        ("arn:aws:iam::123456789012:user/someone", "is an IAM ARN but not a role's"),
        ("arn:aws:s3:::bucket", "is not an IAM ARN"),
        ("arn:aws:iam::210987654321:role/private-name\n", "contains white space"),
    ):
        with pytest.raises(ConfigurationError, match="expected an IAM role ARN") as caught:
            settings(role_arn=value)
        assert problem in str(caught.value)
        assert value.strip() not in str(caught.value)


def test_fixed_ranges_are_static_hyperparameters(published):
    """Pure request building: a range with min == max (or one category) is a static
    hyperparameter, not a range; context_length left out is fixed at prediction_length."""
    ref, _ = published
    ref = on_s3_ref(ref)
    space = dict(DEFAULT_SEARCH_SPACE)
    space["num_layers"] = IntegerRange(2, 2)
    space["dropout_rate"] = ContinuousRange(0.1, 0.1)
    space["likelihood"] = CategoricalRange(("student-T",))
    del space["context_length"]
    request = build_tuning_request(ref, space, TUNING, settings(), DEEPAR_US_EAST_1)
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert (static["num_layers"], static["dropout_rate"], static["likelihood"]) == ("2", "0.1", "student-T")
    assert static["context_length"] == str(ref.prediction_length)
    tuned = {r["Name"] for kind in request["HyperParameterTuningJobConfig"]["ParameterRanges"].values() for r in kind}
    assert tuned == set(space) - {"num_layers", "dropout_rate", "likelihood"}
    assert not tuned & set(static)


def _without_epochs(space):
    del space["epochs"]


def _all_fixed(space):
    for name, rng in space.items():
        if isinstance(rng, CategoricalRange):
            space[name] = CategoricalRange(rng.values[:1])
        else:
            space[name] = type(rng)(rng.min_value, rng.min_value, rng.scaling)


def _beyond_limits(space):
    space["num_cells"] = IntegerRange(30, 300)


def _reverse_log_integers(space):
    space["epochs"] = IntegerRange(10, 40, "ReverseLogarithmic")


@pytest.mark.parametrize(
    "change, message",
    [
        (_without_epochs, "DeepAR requires epochs"),
        (_all_fixed, "nothing to tune"),
        (_beyond_limits, "outside the values SageMaker DeepAR accepts"),
        (_reverse_log_integers, "ReverseLogarithmic"),
    ],
)
def test_request_refuses_spaces_sagemaker_would_refuse(published, change, message):
    """Pure request building: the error names the problem before anything reaches AWS."""
    ref, _ = published
    space = dict(DEFAULT_SEARCH_SPACE)
    change(space)
    with pytest.raises(ConfigurationError, match=message):
        build_tuning_request(on_s3_ref(ref), space, TUNING, settings(), DEEPAR_US_EAST_1)


def test_refuses_a_dataset_that_is_not_on_s3(published, cards):
    """No endpoint needed: the refusal comes before any request."""
    ref, _ = published
    engine = SageMakerEngine(stubbed_client(), cards, settings(), sleep=no_sleep)
    with Stubber(engine.client):  # any AWS call would fail the test
        with pytest.raises(ConfigurationError, match=r"SageMaker reads its channels from S3: set DEEPAR_STORAGE=s3://"):
            engine.tune(ref, DEFAULT_SEARCH_SPACE, TUNING, print)


def test_static_hyperparameters_come_from_the_dataset(tmp_path):
    """Pure request building: a monthly dataset without dynamic features sends time_freq M,
    its cardinality, and num_dynamic_feat ignore (DeepAR takes a positive count or ignore);
    daily counts send D."""
    monthly = on_s3_ref(publish_shape(FolderStore(tmp_path / "m"), MONTHLY))
    static = build_tuning_request(monthly, DEFAULT_SEARCH_SPACE, TUNING, settings(), DEEPAR_US_EAST_1)[
        "TrainingJobDefinition"
    ]["StaticHyperParameters"]
    assert (static["time_freq"], static["cardinality"], static["num_dynamic_feat"]) == ("M", "[2,3]", "ignore")
    assert static["prediction_length"] == str(MONTHLY.h)
    daily = on_s3_ref(publish_shape(FolderStore(tmp_path / "d"), dataclasses.replace(DAILY_COUNTS, dynamic_feat=2)))
    static = build_tuning_request(daily, DEFAULT_SEARCH_SPACE, TUNING, settings(), DEEPAR_US_EAST_1)[
        "TrainingJobDefinition"
    ]["StaticHyperParameters"]
    assert (static["time_freq"], static["cardinality"], static["num_dynamic_feat"]) == ("D", "[2,3]", "2")


def test_cost_bound_and_price_override():
    """Pure: jobs × instances × hours × price; the user's price table wins."""
    bound = cost_bound(20, settings())
    assert bound.usd == round(20 * 1 * 1.0 * DEFAULT_PRICES["ml.c5.2xlarge"], 2) == 8.16
    assert bound.describe() == "20 jobs × 1 × ml.c5.2xlarge × 1 h × $0.408/h = $8.16"
    custom = cost_bound(
        10, settings(instance_type="ml.c5.4xlarge", instance_count=2, max_runtime_s=5400, prices={"ml.c5.4xlarge": 1.0})
    )
    assert custom.usd == 10 * 2 * 1.5 * 1.0
    assert cost_bound(20, settings(instance_type="ml.trn1.32xlarge")).usd is None


# -- against moto over HTTP -----------------------------------------------------------------
def test_tuning_job_request_as_stored_by_the_endpoint(dataset, sm, s3, cards):
    """moto HTTP: create the tuning job, read it back, assert every part of the request."""
    lines: list[str] = []
    engine = moto_engine(sm, cards)
    launch = engine.launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, lines.append)
    assert launch.created and len(launch.name) <= 32
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=launch.name)
    assert job["HyperParameterTuningJobArn"] == launch.arn

    config = job["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Minimize", "MetricName": "test:mean_wQuantileLoss"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 3}
    assert config["RandomSeed"] == 42 and config["TrainingJobEarlyStoppingType"] == "Off"
    ranges = config["ParameterRanges"]
    # The shared search space, exactly, as SageMaker stores it (strings); a range fixed to one
    # value (num_layers, likelihood) goes as a static hyperparameter instead.
    fixed, searched = split_fixed(DEFAULT_SEARCH_SPACE)
    assert fixed == {"num_layers": 2, "likelihood": "student-T"}
    expected = {
        name: (str(rng.min_value), str(rng.max_value), rng.scaling)
        for name, rng in searched.items()
        if hasattr(rng, "min_value")
    }
    stored = {
        r["Name"]: (r["MinValue"], r["MaxValue"], r["ScalingType"])
        for kind in ("IntegerParameterRanges", "ContinuousParameterRanges")
        for r in ranges[kind]
    }
    assert stored == expected
    assert {r["Name"] for r in ranges["IntegerParameterRanges"]} == {
        "epochs",
        "context_length",
        "num_cells",
        "mini_batch_size",
        "embedding_dimension",
    }
    assert ranges.get("CategoricalParameterRanges", []) == []

    definition = job["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"] == {"TrainingImage": DEEPAR_US_EAST_1, "TrainingInputMode": "File"}
    assert definition["StaticHyperParameters"] == {
        "time_freq": "W",
        "prediction_length": str(dataset.prediction_length),
        "num_dynamic_feat": str(len(dataset.dynamic_feat)),
        "cardinality": "[" + ",".join(map(str, dataset.cardinality)) + "]",
        "test_quantiles": "[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]",
        "num_eval_samples": "100",
        "num_layers": "2",
        "likelihood": "student-T",
    }
    assert definition["RoleArn"] == ROLE
    assert definition["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/{PREFIX}/models/sagemaker-training/"}
    assert definition["ResourceConfig"] == {"InstanceType": "ml.c5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in definition["InputDataConfig"]}
    assert set(channels) == {"train", "test"}
    for name, source in channels.items():
        assert source["S3Uri"] == f"s3://{BUCKET}/{PREFIX}/{dataset.base}/{name}/data.json"
        assert (source["S3DataType"], source["S3DataDistributionType"]) == ("S3Prefix", "FullyReplicated")
        key = source["S3Uri"][len(f"s3://{BUCKET}/") :]
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0, f"{source['S3Uri']} is not in the bucket"
    assert not job.get("WarmStartConfig")
    assert any("at most 20 jobs × 1 × ml.c5.2xlarge × 1 h × $0.408/h = $8.16" in line for line in lines)


def test_a_monthly_dataset_without_covariates_as_stored_by_the_endpoint(tmp_path, sm, s3, cards):
    """moto HTTP: the tuning job of a monthly dataset with string ids and no dynamic features
    carries its time_freq, cardinality and num_dynamic_feat, and its channels are in the bucket."""
    store = FolderStore(tmp_path / "monthly")
    monthly = on_s3(publish_shape(store, MONTHLY), store, s3)
    launch = moto_engine(sm, cards).launch(monthly, DEFAULT_SEARCH_SPACE, TUNING, print)
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=launch.name)
    static = job["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["time_freq"] == "M" and static["num_dynamic_feat"] == "ignore"
    assert static["cardinality"] == "[2,3]" and static["prediction_length"] == str(MONTHLY.h)
    for channel in job["TrainingJobDefinition"]["InputDataConfig"]:
        key = channel["DataSource"]["S3DataSource"]["S3Uri"][len(f"s3://{BUCKET}/") :]
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0


@pytest.mark.parametrize("freq", ["QE-DEC", "B", "YE"])
def test_a_frequency_deepar_does_not_take_is_refused_before_any_job(dataset, sm, cards, freq):
    """moto HTTP: a dataset whose frequency SageMaker DeepAR cannot take (quarters, business
    days, years) is refused with the reason, and the endpoint holds no tuning job afterwards."""
    odd = dataclasses.replace(dataset, freq=freq)
    with pytest.raises(ConfigurationError, match=rf"frequency '{freq}': SageMaker DeepAR's time_freq takes M, W, D, H"):
        moto_engine(sm, cards).tune(odd, DEFAULT_SEARCH_SPACE, TUNING, print)
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []


def test_configured_instances_and_parallelism_reach_the_request(dataset, sm, cards):
    """moto HTTP: instance type/count, parallelism, runtime and early stopping as configured."""
    engine = moto_engine(
        sm,
        cards,
        instance_type="ml.m5.xlarge",
        instance_count=2,
        max_parallel_jobs=5,
        max_runtime_s=1800,
        early_stopping="Auto",
        volume_size_gb=50,
    )
    launch = engine.launch(dataset, DEFAULT_SEARCH_SPACE, TuningSettings(max_trials=8), print)
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=launch.name)
    assert job["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 8,
        "MaxParallelTrainingJobs": 5,
    }
    assert job["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    assert job["TrainingJobDefinition"]["ResourceConfig"] == {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 50,
    }
    assert job["TrainingJobDefinition"]["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
    assert launch.cost.usd == round(8 * 2 * 0.5 * DEFAULT_PRICES["ml.m5.xlarge"], 2)


def test_cost_ceiling_refuses_to_launch(dataset, sm, cards):
    """moto HTTP: above the ceiling nothing is created; the error names the figures."""
    engine = moto_engine(sm, cards, instance_type="ml.p3.2xlarge", max_cost_usd=40.0)
    with pytest.raises(
        ConfigurationError,
        match=r"up to 20 jobs × 1 × ml.p3.2xlarge × 1 h × \$3.825/h = \$76.50, above the ceiling max_cost_usd=\$40.00",
    ):
        engine.launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print)
    unknown = moto_engine(sm, cards, instance_type="ml.trn1.32xlarge")
    with pytest.raises(ConfigurationError, match="no price is known for ml.trn1.32xlarge"):
        unknown.launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print)
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    priced = moto_engine(
        sm, cards, instance_type="ml.trn1.32xlarge", prices={"ml.trn1.32xlarge": 1.5}, max_cost_usd=None
    )
    assert priced.launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print).cost.usd == 30.0


def test_a_rerun_follows_the_same_job_and_new_settings_launch_another(dataset, sm, cards):
    """moto HTTP: same data and settings → the same job name, attached to, not created twice."""
    engine = moto_engine(sm, cards)
    first = engine.launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print)
    lines: list[str] = []
    again = engine.launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, lines.append)
    assert (again.name, again.arn, again.created) == (first.name, first.arn, False)
    assert "following it instead of launching another" in lines[0]
    # Following a job costs nothing more: a ceiling set since does not refuse it.
    assert (
        moto_engine(sm, cards, max_cost_usd=1.0).launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print).name == first.name
    )
    other = engine.launch(dataset, DEFAULT_SEARCH_SPACE, TuningSettings(max_trials=10, seed=42), print)
    assert other.name != first.name and other.created
    names = {
        s["HyperParameterTuningJobName"]
        for s in sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    }
    assert names == {first.name, other.name}


def test_warm_start_from_the_previous_job_on_another_data_version(published, dataset, sm, s3, cards):
    """moto HTTP: warm_start=previous finds the newest completed job of an earlier data
    version (moto completes jobs at once) and asks for transfer learning from it; a job
    with another objective cannot be a parent; a named parent on the same data is
    IdenticalDataAndAlgorithm."""
    ref, store = published
    older = moto_engine(sm, cards).launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print)
    rmse = moto_engine(sm, cards).launch(
        dataset, DEFAULT_SEARCH_SPACE, TuningSettings(objective_metric="test:RMSE"), print
    )
    newer_data = on_s3(ref, store, s3, version="feedface" + ref.version[8:])

    lines: list[str] = []
    warm = moto_engine(sm, cards, warm_start="previous").launch(newer_data, DEFAULT_SEARCH_SPACE, TUNING, lines.append)
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=warm.name)
    assert job["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": older.name}],
        "WarmStartType": "TransferLearning",
    }
    assert any(f"skipping {rmse.name}: {rmse.name} minimized test:RMSE" in line for line in lines)
    # The same data version again: the jobs on it are not "previous", so a rerun finds the same parent and name.
    assert (
        moto_engine(sm, cards, warm_start="previous").launch(newer_data, DEFAULT_SEARCH_SPACE, TUNING, print).name
        == warm.name
    )

    named = moto_engine(sm, cards, warm_start=older.name).launch(
        dataset, DEFAULT_SEARCH_SPACE, TuningSettings(max_trials=5), print
    )
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=named.name)
    assert job["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    with pytest.raises(
        ConfigurationError, match=f"{rmse.name} cannot be a parent of this run: {rmse.name} minimized test:RMSE"
    ):
        moto_engine(sm, cards, warm_start=rmse.name).launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print)
    with pytest.raises(ConfigurationError, match="tuning job deepar-nope does not exist"):
        moto_engine(sm, cards, warm_start="deepar-nope").launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print)


def moto_best_job(sm, launch, dataset) -> str:
    """moto's tuning jobs name 'FakeTrainingJobName' as their best job; create that training
    job in moto as the tuner would have (same image, role, output path, hyperparameters)."""
    definition = launch.request["TrainingJobDefinition"]
    sm.create_training_job(
        TrainingJobName="FakeTrainingJobName",
        HyperParameters={
            **definition["StaticHyperParameters"],
            "epochs": "23",
            "learning_rate": "0.0021",
            "likelihood": "gaussian",
            "_tuning_objective_metric": "test:mean_wQuantileLoss",
        },
        AlgorithmSpecification=definition["AlgorithmSpecification"],
        RoleArn=definition["RoleArn"],
        InputDataConfig=definition["InputDataConfig"],
        OutputDataConfig=definition["OutputDataConfig"],
        ResourceConfig=definition["ResourceConfig"],
        StoppingCondition=definition["StoppingCondition"],
    )
    return sm.describe_training_job(TrainingJobName="FakeTrainingJobName")["ModelArtifacts"]["S3ModelArtifacts"]


def test_register_best_creates_the_model_and_package_on_the_endpoint(dataset, sm, cards):
    """moto HTTP: the best training job's artifacts become a SageMaker Model (DeepAR image,
    execution role), a model package pending approval in a group created on the way, and a
    model card with the ARNs; a rerun reuses the model."""
    engine = moto_engine(sm, cards, model_package_group="deepar-walmart")
    launch = engine.launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print)
    artifacts = moto_best_job(sm, launch, dataset)
    assert artifacts.startswith(f"s3://{BUCKET}/{PREFIX}/models/sagemaker-training/")
    tuning = TuningResult(
        engine="sagemaker",
        objective_metric=TUNING.objective_metric,
        settings=TUNING,
        dataset=dataset,
        trials=[],
        run_id=launch.name,
    )

    lines: list[str] = []
    model = engine.register_best(tuning, lines.append)
    stored = sm.describe_model(ModelName=model.model_id)
    assert stored["ModelArn"] == model.uri
    assert stored["PrimaryContainer"] == {"Image": DEEPAR_US_EAST_1, "ModelDataUrl": artifacts}
    assert stored["ExecutionRoleArn"] == ROLE
    group = sm.describe_model_package_group(ModelPackageGroupName="deepar-walmart")
    packages = sm.list_model_packages(ModelPackageGroupName="deepar-walmart")["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in packages] == [model.card["sagemaker"]["model_package_arn"]]
    package = sm.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["InferenceSpecification"]["Containers"] == [{"Image": DEEPAR_US_EAST_1, "ModelDataUrl": artifacts}]
    assert package["CustomerMetadataProperties"]["data_version"] == dataset.version

    card = json.loads(cards.get_bytes(f"models/{model.model_id}/model.json"))
    assert card == json.loads(json.dumps(model.card, default=str))
    assert card["sagemaker"]["model_arn"] == model.uri
    assert card["sagemaker"]["model_package_group_arn"] == group["ModelPackageGroupArn"]
    assert card["sagemaker"]["tuning_job_arn"] == launch.arn
    assert card["hyperparameters"]["epochs"] == 23 and card["hyperparameters"]["likelihood"] == "gaussian"
    assert "_tuning_objective_metric" not in card["hyperparameters"]
    assert card["data_version"] == dataset.version and card["tuning_run"] == launch.name
    assert model.details["model_arn"] == model.uri
    assert ROLE not in json.dumps(card), "the execution role stays out of the card unless asked for"

    # No group this time; the role in the card, as asked.
    again = moto_engine(sm, cards, role_arn_in_card=True).register_best(tuning, lines.append)
    assert again.uri == model.uri and "already exists with these artifacts" in lines[-1]
    assert json.loads(cards.get_bytes(f"models/{model.model_id}/model.json"))["sagemaker"]["role_arn"] == ROLE
    assert len(sm.list_models()["Models"]) == 1


def test_best_model_asset_records_the_arns(dataset, sm, tmp_path, monkeypatch):
    """moto HTTP, through Dagster: the best_model asset, with the training resource built
    from the environment (DEEPAR_BACKEND, SAGEMAKER_ROLE_ARN, AWS_*), puts ARNs in its metadata."""
    from deepar_assets.assets.training import best_model
    from deepar_assets.resources.storage import StorageResource
    from deepar_assets.resources.training import TrainingResource

    monkeypatch.setenv("DEEPAR_BACKEND", "sagemaker")
    monkeypatch.setenv("SAGEMAKER_ROLE_ARN", ROLE)
    training = TrainingResource(poll_seconds=0)
    launch = training.engine(FolderStore(tmp_path)).launch(dataset, DEFAULT_SEARCH_SPACE, TUNING, print)
    moto_best_job(sm, launch, dataset)
    tuning = TuningResult(
        engine="sagemaker",
        objective_metric=TUNING.objective_metric,
        settings=TUNING,
        dataset=dataset,
        trials=[],
        run_id=launch.name,
    )
    output = best_model(
        dg.build_asset_context(),
        tuning_run=tuning,
        storage=StorageResource(location=str(tmp_path / "store")),
        training=training,
    )
    metadata = {key: value.value for key, value in output.metadata.items()}
    assert metadata["model_arn"] == output.value.uri == sm.describe_model(ModelName=output.value.model_id)["ModelArn"]
    assert metadata["tuning_job_arn"] == launch.arn
    assert metadata["data_version"] == dataset.version
    assert (tmp_path / "store" / "models" / output.value.model_id / "model.json").exists()


# -- with botocore's Stubber ----------------------------------------------------------------
def test_progress_is_logged_until_the_job_completes_and_trials_come_back_typed(dataset, cards):
    """Stubber: InProgress → InProgress (unchanged) → InProgress with counters and a best so
    far → Completed; then the training jobs, listed over two pages, become typed Trials."""
    lines: list[str] = []
    sleeps: list[float] = []
    engine = SageMakerEngine(stubbed_client(), cards, settings(poll_interval_s=30), sleep=sleeps.append)
    name = expected_name(dataset, DEFAULT_SEARCH_SPACE, QUIET, engine.settings)
    describes, trials = completed_run(name)
    with Stubber(engine.client) as stub:
        stub_launch(stub, name)
        stub_describes(stub, describes)
        stub_trials(stub, name, trials, page=3)
        result = engine.tune(dataset, DEFAULT_SEARCH_SPACE, QUIET, lines.append)
        stub.assert_no_pending_responses()

    assert sleeps == [30, 30, 30]
    progress = [line for line in lines if line.startswith(f"tuning job {name}:")]
    assert len(progress) == 3, progress  # the unchanged answer is not logged twice
    assert "InProgress, training jobs 0/4 completed, 3 running, 0 failed; no objective value yet" in progress[0]
    assert (
        "InProgress, training jobs 1/4 completed, 2 running, 1 failed; best so far test:mean_wQuantileLoss=0.1832"
        in progress[1]
    )
    assert (
        f"Completed, training jobs 3/4 completed, 0 running, 1 failed; best so far test:mean_wQuantileLoss=0.1214 ({trials[2]['TrainingJobName']})"
        in progress[2]
    )

    assert [t.state for t in result.trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert [t.number for t in result.trials] == [1, 2, 3, 4]
    assert result.trials[1].error.startswith("AlgorithmError: mini_batch_size")
    best = result.best()
    assert (best.number, best.objective, best.name) == (3, 0.1214, trials[2]["TrainingJobName"])
    assert best.hyperparameters == {
        "epochs": 31,
        "learning_rate": 0.0008,
        "likelihood": "gaussian",
        "num_cells": 64,
        "num_layers": 2,
    }  # tuned + fixed
    assert best.duration_s == 420.0 and best.metrics == {"test:mean_wQuantileLoss": 0.1214}
    assert result.run_id == name and result.engine == "sagemaker"
    assert result.details["tuning_job_arn"].endswith(f"hyper-parameter-tuning-job/{name}")
    assert result.details["max_cost_usd"] == round(4 * DEFAULT_PRICES["ml.c5.2xlarge"], 2)
    assert result.details["best_training_job"] == trials[2]["TrainingJobName"]

    from deepar_assets.assets.training import trials_table

    table = trials_table(result)
    assert [r.data["name"] for r in table.records] == [t["TrainingJobName"] for t in trials]


def test_a_job_not_yet_visible_right_after_creation_is_waited_for(dataset, cards):
    """Stubber: Describe may not find a job created a moment ago; the engine polls again
    instead of failing (and leaving the job running unattended)."""
    engine = SageMakerEngine(stubbed_client(), cards, settings(), sleep=no_sleep)
    name = expected_name(dataset, DEFAULT_SEARCH_SPACE, QUIET, engine.settings)
    describes, trials = completed_run(name)
    with Stubber(engine.client) as stub:
        stub_launch(stub, name)
        stub.add_client_error("describe_hyper_parameter_tuning_job", "ResourceNotFound", f"no tuning job {name}", 400)
        stub_describes(stub, describes[-1:])
        stub_trials(stub, name, trials)
        result = engine.tune(dataset, DEFAULT_SEARCH_SPACE, QUIET, print)
        stub.assert_no_pending_responses()
    assert result.best().name == trials[2]["TrainingJobName"]


def test_a_failed_job_fails_with_its_name_and_sagemakers_reason(dataset, cards):
    """Stubber: InProgress → Failed; the error names the job and SageMaker's FailureReason,
    and nothing tries to stop a job that already ended."""
    engine = SageMakerEngine(stubbed_client(), cards, settings(), sleep=no_sleep)
    name = expected_name(dataset, DEFAULT_SEARCH_SPACE, QUIET, engine.settings)
    reason = "ClientError: Unable to download data from s3://deepar-test/team/forecasts/datasets: AccessDenied"
    with Stubber(engine.client) as stub:
        stub_launch(stub, name)
        stub_describes(
            stub, [description(name, "InProgress", running=2), description(name, "Failed", failed=2, failure=reason)]
        )
        with pytest.raises(TrainingError) as failure:
            engine.tune(dataset, DEFAULT_SEARCH_SPACE, QUIET, print)
        stub.assert_no_pending_responses()
    assert f"SageMaker tuning job {name} failed: {reason}" in str(failure.value)


def test_a_job_stopped_elsewhere_fails_the_run(dataset, cards):
    """Stubber: someone stops the job in the console (Stopping → Stopped): the run fails."""
    engine = SageMakerEngine(stubbed_client(), cards, settings(), sleep=no_sleep)
    name = expected_name(dataset, DEFAULT_SEARCH_SPACE, QUIET, engine.settings)
    with Stubber(engine.client) as stub:
        stub_launch(stub, name)
        stub_describes(
            stub,
            [
                description(name, "Stopping", completed=1, stopped=1),
                description(name, "Stopped", completed=1, stopped=2),
            ],
        )
        with pytest.raises(TrainingError, match=f"tuning job {name} ended Stopped before it completed"):
            engine.tune(dataset, DEFAULT_SEARCH_SPACE, QUIET, print)
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, dg.DagsterExecutionInterruptedError])
def test_an_interrupted_run_stops_the_tuning_job_and_reraises(dataset, cards, interruption):
    """Stubber: Dagster cancels a run by raising DagsterExecutionInterruptedError (or
    KeyboardInterrupt) into the step while it waits; the engine stops the tuning job, then
    lets the interruption through."""
    lines: list[str] = []

    def interrupted(seconds: float) -> None:
        raise interruption()

    engine = SageMakerEngine(stubbed_client(), cards, settings(), sleep=interrupted)
    name = expected_name(dataset, DEFAULT_SEARCH_SPACE, QUIET, engine.settings)
    with Stubber(engine.client) as stub:
        stub_launch(stub, name)
        stub_describes(stub, [description(name, "InProgress", running=3)])
        stub.add_response("stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": name})
        with pytest.raises(interruption):
            engine.tune(dataset, DEFAULT_SEARCH_SPACE, QUIET, lines.append)
        stub.assert_no_pending_responses()
    assert any(
        line.startswith(f"stop requested: SageMaker stops the running training jobs of {name}") for line in lines
    )


def test_register_best_from_a_realistic_best_job(dataset, cards):
    """Stubber: the tuning job's BestTrainingJob → DescribeTrainingJob → CreateModel with a
    deterministic name, the job's image and artifacts and the execution role; no package
    without a group; the card has the objective and typed hyperparameters."""
    engine = SageMakerEngine(stubbed_client(), cards, settings(), sleep=no_sleep)
    name = expected_name(dataset, DEFAULT_SEARCH_SPACE, QUIET, engine.settings)
    describes, trials = completed_run(name)
    with Stubber(engine.client) as stub:
        stub_launch(stub, name)
        stub_describes(stub, describes)
        stub_trials(stub, name, trials)
        tuning = engine.tune(dataset, DEFAULT_SEARCH_SPACE, QUIET, print)
        stub.assert_no_pending_responses()

    best = trials[2]["TrainingJobName"]
    output = f"s3://{BUCKET}/{PREFIX}/models/sagemaker-training/"
    hyperparameters = {
        "time_freq": "W",
        "prediction_length": "4",
        "epochs": "31",
        "learning_rate": "0.0008",
        "likelihood": "gaussian",
        "num_cells": "64",
        "cardinality": "[3,5,1]",
        "_tuning_objective_metric": "test:mean_wQuantileLoss",
    }
    training = training_job_description(best, name, output, hyperparameters)
    model_name = model_name_for(dataset.version, name, best)
    model_arn = f"arn:aws:sagemaker:us-east-1:123456789012:model/{model_name}"
    with Stubber(engine.client) as stub:
        stub_describes(stub, describes[-1:])
        stub.add_response("describe_training_job", training, {"TrainingJobName": best})
        stub.add_client_error(
            "describe_model",
            "ValidationException",
            f'Could not find model "{model_arn}".',
            400,
            expected_params={"ModelName": model_name},
        )
        stub.add_response(
            "create_model",
            {"ModelArn": model_arn},
            {
                "ModelName": model_name,
                "PrimaryContainer": {"Image": DEEPAR_US_EAST_1, "ModelDataUrl": f"{output}{best}/output/model.tar.gz"},
                "ExecutionRoleArn": ROLE,
                "Tags": [
                    {"Key": "deepar:data-version", "Value": dataset.version},
                    {"Key": "deepar:tuning-job", "Value": name},
                    {"Key": "deepar:managed-by", "Value": "deepar-assets"},
                ],
            },
        )
        model = engine.register_best(tuning, print)
        stub.assert_no_pending_responses()
    assert model.uri == model_arn and model.model_id == model_name
    card = json.loads(cards.get_bytes(f"models/{model_name}/model.json"))
    assert card["objective"] == {"name": "test:mean_wQuantileLoss", "value": 0.1214, "trial": 3, "training_job": best}
    assert card["hyperparameters"]["epochs"] == 31 and card["hyperparameters"]["learning_rate"] == 0.0008
    assert (
        card["hyperparameters"]["cardinality"] == "[3,5,1]"
        and "_tuning_objective_metric" not in card["hyperparameters"]
    )
    assert card["sagemaker"]["model_package_arn"] is None and card["train_seconds"] == 412
    assert card["engine"] == "sagemaker" and card["library_versions"]["sagemaker-core"].startswith("2.")


def test_register_best_refuses_a_local_tuning_run(dataset, cards):
    """No endpoint needed: a local study is not a SageMaker tuning job."""
    engine = SageMakerEngine(stubbed_client(), cards, settings(), sleep=no_sleep)
    local = TuningResult(
        engine="local",
        objective_metric="test:RMSE",
        settings=TUNING,
        dataset=dataset,
        trials=[],
        run_id="deepar-x-seed42",
    )
    with Stubber(engine.client):
        with pytest.raises(ConfigurationError, match="came from the local engine"):
            engine.register_best(local, print)
