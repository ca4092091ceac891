"""The IAM policies in deploy/iam/: valid, scoped, and exactly what the engine calls.

The SageMaker operations the engine makes are recorded with a botocore event hook while it
runs every path it has: against moto over HTTP (launch with a warm start, register the best
model with a model package group created on the way) and, where moto cannot act it out,
with botocore's Stubber (a job followed to completion and its trials listed; a job stopped
on interruption). The runner policy must allow exactly those operations (plus AddTags, which
SageMaker requires for tags given at creation), and a source scan of the engine checks that
no client call is missing from the recording.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from deepar_assets.domain.encoding import encode
from deepar_assets.domain.hyperparameters import DEFAULT_SEARCH_SPACE
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec import load_spec
from deepar_assets.engines import sagemaker as engine_module
from deepar_assets.engines.base import TuningResult, TuningSettings
from deepar_assets.engines.sagemaker import NAME_PREFIX, SageMakerEngine, SageMakerSettings
from deepar_assets.storage.datasets import publish_dataset
from deepar_assets.storage.local import FolderStore
from deepar_assets_tests.engines.sagemaker_scenarios import (
    BUCKET,
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
)

IAM = Path(__file__).resolve().parents[1] / "deploy" / "iam"
PLACEHOLDERS = {
    "${ACCOUNT_ID}",
    "${REGION}",
    "${BUCKET}",
    "${PREFIX}",
    "${EXECUTION_ROLE_NAME}",
    "${MODEL_PACKAGE_GROUP}",
}
# Actions IAM cannot scope to a resource: the only ones allowed on "*".
UNSCOPABLE = {"sagemaker:ListHyperParameterTuningJobs", "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}
TUNING = TuningSettings(max_trials=4, seed=7)


def load(name: str) -> dict:
    return json.loads((IAM / name).read_text())


def statements(policy: dict) -> list[dict]:
    return policy["Statement"]


def actions(policy: dict, service: str) -> set[str]:
    found = set()
    for statement in statements(policy):
        found |= {a for a in _list(statement["Action"]) if a.startswith(f"{service}:")}
    return found


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


class Recorder:
    """The SageMaker operations a client is asked to make (before Stubber or HTTP)."""

    def __init__(self):
        self.operations: set[str] = set()

    def attach(self, client):
        client.meta.events.register("before-parameter-build.sagemaker", self._record)
        return client

    def _record(self, model, **kwargs):
        self.operations.add(model.name)


@pytest.fixture
def recorded(aws_env, tmp_path, small_source) -> set[str]:
    store = FolderStore(tmp_path / "published")
    ref = publish_dataset(store, encode(read_dataset(load_spec("synthetic"), small_source)), prediction_length=4).ref
    s3 = boto3.client("s3")
    old, new = on_s3(ref, store, s3), on_s3(ref, store, s3, version="feedface" + ref.version[8:])
    recorder = Recorder()
    cards = FolderStore(tmp_path / "cards")
    base = {"role_arn": ROLE, "poll_interval_s": 0}

    # moto over HTTP: a job on the old data, a warm-started one on the new, its best model registered.
    moto = recorder.attach(boto3.client("sagemaker"))
    SageMakerEngine(moto, cards, SageMakerSettings(**base)).launch(old, DEFAULT_SEARCH_SPACE, TUNING, print)
    engine = SageMakerEngine(
        moto, cards, SageMakerSettings(**base, warm_start="previous", model_package_group="deepar-walmart")
    )
    launch = engine.launch(new, DEFAULT_SEARCH_SPACE, TUNING, print)
    definition = launch.request["TrainingJobDefinition"]
    boto3.client("sagemaker").create_training_job(  # moto's fixed best job, as the tuner would have made it
        TrainingJobName="FakeTrainingJobName",
        HyperParameters=definition["StaticHyperParameters"],
        AlgorithmSpecification=definition["AlgorithmSpecification"],
        RoleArn=ROLE,
        InputDataConfig=definition["InputDataConfig"],
        OutputDataConfig=definition["OutputDataConfig"],
        ResourceConfig=definition["ResourceConfig"],
        StoppingCondition=definition["StoppingCondition"],
    )
    tuning = TuningResult("sagemaker", TUNING.objective_metric, TUNING, new, [], run_id=launch.name)
    model = engine.register_best(tuning, print)
    # Forecasts: a batch transform job of that model (moto's complete at once).
    engine.transform(
        model.model_id,
        f"s3://{BUCKET}/{PREFIX}/forecasts/in/data.json",
        f"s3://{BUCKET}/{PREFIX}/forecasts/out",
        "d",
        50,
        print,
    )

    # Stubber: followed to completion with its trials listed; stopped when interrupted.
    stubbed = SageMakerEngine(recorder.attach(stubbed_client()), cards, SageMakerSettings(**base))
    name = expected_name(old, DEFAULT_SEARCH_SPACE, TUNING, stubbed.settings)
    describes, trials = completed_run(name)
    with Stubber(stubbed.client) as stub:
        stub_launch(stub, name)
        stub_describes(stub, describes)
        stub_trials(stub, name, trials)
        stubbed.tune(old, DEFAULT_SEARCH_SPACE, TUNING, print)

    def interrupted(seconds):
        raise KeyboardInterrupt

    stopped = SageMakerEngine(recorder.attach(stubbed_client()), cards, SageMakerSettings(**base), sleep=interrupted)
    with Stubber(stopped.client) as stub:
        stub_launch(stub, name)
        stub_describes(stub, [description(name, "InProgress", running=1)])
        stub.add_response("stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": name})
        with pytest.raises(KeyboardInterrupt):
            stopped.tune(old, DEFAULT_SEARCH_SPACE, TUNING, print)
    transform = engine_module.transform_job_name("deepar-m", "d")
    with Stubber(stopped.client) as stub:  # a batch transform job stopped when interrupted
        stub.add_client_error(
            "describe_transform_job", "ValidationException", f"Could not find transform job '{transform}'."
        )
        stub.add_response(
            "create_transform_job",
            {"TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{transform}"},
        )
        stub.add_response(
            "describe_transform_job",
            {
                "TransformJobName": transform,
                "TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{transform}",
                "TransformJobStatus": "InProgress",
                "ModelName": "deepar-m",
                "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}},
                "TransformResources": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1},
                "CreationTime": datetime(2026, 3, 2),
            },
        )
        stub.add_response("stop_transform_job", {}, {"TransformJobName": transform})
        with pytest.raises(KeyboardInterrupt):
            stopped.transform("deepar-m", "s3://b/in/data.json", "s3://b/out", "d", 50, print)
    return recorder.operations


def called_in_source() -> set[str]:
    """Every client method the engine's source names, as SageMaker operation names."""
    source = "\n".join(p.read_text() for p in sorted(Path(engine_module.__file__).parent.glob("*.py")))
    methods = set(re.findall(r"self\.client\.(\w+)\(", source)) - {"get_paginator"}
    methods |= set(re.findall(r'_call\(\s*"(\w+)"', source))
    methods |= set(re.findall(r'get_paginator\("(\w+)"\)', source))
    mapping = stubbed_client().meta.method_to_api_mapping
    unknown = methods - set(mapping)
    assert not unknown, f"not sagemaker client methods: {unknown}"
    return {mapping[m] for m in methods}


def test_policies_are_valid_json_with_placeholders_the_readme_explains():
    readme = (IAM.parents[1] / "README.md").read_text()
    for path in sorted(IAM.glob("*.json")):
        policy = json.loads(path.read_text())
        assert policy["Version"] == "2012-10-17", path.name
        for statement in statements(policy):
            assert statement["Effect"] == "Allow" and statement.get("Sid"), f"{path.name}: {statement}"
            assert "Action" in statement and ("Resource" in statement or "Principal" in statement), (
                f"{path.name}: {statement}"
            )
        used = set(re.findall(r"\$\{[A-Z_]+\}", path.read_text()))
        assert used <= PLACEHOLDERS, f"{path.name} uses unexplained placeholders {used - PLACEHOLDERS}"
        assert path.name in readme, f"README.md should say what {path.name} is for"
    for placeholder in PLACEHOLDERS:
        assert placeholder.strip("${}") in readme, f"README.md should explain {placeholder}"


@pytest.mark.parametrize("name", ["dagster-runner-policy.json", "sagemaker-execution-role-policy.json"])
def test_least_privilege_no_wildcard_actions_and_scoped_resources(name):
    for statement in statements(load(name)):
        for action in _list(statement["Action"]):
            assert "*" not in action, f"{name}: wildcard action {action}"
        if "*" in _list(statement["Resource"]):
            assert set(_list(statement["Action"])) <= UNSCOPABLE, (
                f"{name}: {statement['Sid']} allows {statement['Action']} on *"
            )
        for resource in _list(statement["Resource"]):
            if resource.startswith("arn:aws:s3:::"):
                assert resource.startswith("arn:aws:s3:::${BUCKET}"), f"{name}: S3 outside the bucket: {resource}"
                assert resource == "arn:aws:s3:::${BUCKET}" or resource.startswith(
                    "arn:aws:s3:::${BUCKET}/${PREFIX}/"
                ), resource
            if resource.startswith("arn:aws:sagemaker:") and ":model-package" not in resource:
                assert resource.split("/", 1)[1] == f"{NAME_PREFIX}*", (
                    f"{name}: SageMaker resources beyond this platform's: {resource}"
                )


def test_the_runner_may_pass_the_execution_role_to_sagemaker_only():
    passing = [s for s in statements(load("dagster-runner-policy.json")) if "iam:PassRole" in _list(s["Action"])]
    assert len(passing) == 1
    assert passing[0]["Resource"] == ["arn:aws:iam::${ACCOUNT_ID}:role/${EXECUTION_ROLE_NAME}"]
    assert passing[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert actions(load("dagster-runner-policy.json"), "iam") == {"iam:PassRole"}
    trust = statements(load("sagemaker-execution-role-trust-policy.json"))
    assert [(s["Principal"], s["Action"]) for s in trust] == [
        ({"Service": "sagemaker.amazonaws.com"}, "sts:AssumeRole")
    ]


def test_the_runner_policy_allows_exactly_the_operations_the_engine_makes(recorded):
    """moto HTTP + Stubber (see the module docstring): recorded operations = allowed actions."""
    assert called_in_source() <= recorded, f"engine calls never exercised here: {called_in_source() - recorded}"
    allowed = {a.split(":", 1)[1] for a in actions(load("dagster-runner-policy.json"), "sagemaker")}
    assert allowed == recorded | {"AddTags"}, (
        f"missing from the policy: {sorted(recorded - allowed)}; allowed but never called: {sorted(allowed - recorded - {'AddTags'})}"
    )


# The IAM action each S3 client call of the object store needs (multipart parts are PutObject).
S3_ACTIONS = {
    "put_object": "s3:PutObject",
    "upload_file": "s3:PutObject",
    "upload_fileobj": "s3:PutObject",
    "get_object": "s3:GetObject",
    "head_object": "s3:GetObject",
    "delete_object": "s3:DeleteObject",
    "list_objects_v2": "s3:ListBucket",
    "head_bucket": "s3:ListBucket",
    "list_multipart_uploads": "s3:ListBucketMultipartUploads",
    "abort_multipart_upload": "s3:AbortMultipartUpload",
}


def test_the_runner_policy_allows_every_s3_call_of_the_object_store_and_no_other():
    """Each client call in storage/s3.py (raw commits delete unused objects and abort stale
    multipart uploads) is allowed, and the policy allows nothing the store never asks for."""
    from deepar_assets.storage import s3 as s3_module

    source = Path(s3_module.__file__).read_text()
    calls = set(re.findall(r"self\.client\.(\w+)\(", source)) | set(re.findall(r'get_paginator\("(\w+)"\)', source))
    calls -= {"get_paginator"}
    unknown = calls - set(S3_ACTIONS)
    assert not unknown, f"S3 calls without a known IAM action here: {unknown}"
    assert actions(load("dagster-runner-policy.json"), "s3") == {S3_ACTIONS[c] for c in calls}
