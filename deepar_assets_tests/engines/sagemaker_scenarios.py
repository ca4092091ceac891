"""What SageMaker answers while a tuning job runs, for botocore's Stubber.

moto's server mode acts out requests (it stores and returns what was sent), but its tuning
jobs complete the moment they are created with a fixed fake best job, and it has no
ListTrainingJobsForHyperParameterTuningJob, StopHyperParameterTuningJob or training jobs
that progress. Those behaviours are played here, on a real boto3 client, with responses that
botocore validates against SageMaker's own API model (a misspelt or mistyped field fails).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from deepar_assets.engines.base import DatasetRef, TuningSettings
from deepar_assets.engines.sagemaker import SageMakerSettings, build_tuning_request, tuning_job_name
from deepar_assets.storage.base import ObjectStore

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deepar-sagemaker-execution"
# The DeepAR image SageMaker documents for us-east-1 (what the sagemaker SDK must return).
DEEPAR_US_EAST_1 = "522234722520.dkr.ecr.us-east-1.amazonaws.com/forecasting-deepar:1"
BUCKET = "deepar-test"
PREFIX = "team/forecasts"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def stubbed_client():
    """A real boto3 sagemaker client (fake keys; Stubber answers before anything is sent)."""
    return boto3.client(
        "sagemaker",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        endpoint_url="http://127.0.0.1:9",
    )


def on_s3(
    dataset: DatasetRef, store: ObjectStore, s3, bucket: str = BUCKET, prefix: str = PREFIX, version: str | None = None
) -> DatasetRef:
    """Copy a published dataset version into an S3 bucket with boto3 (what the S3 store would
    have written) and return its reference there. ``version`` republishes it under another id."""
    version = version or dataset.version
    base = f"datasets/{version}"
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    for key in store.list_keys(dataset.base):
        relative = key[len(dataset.base) + 1 :]
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{base}/{relative}", Body=store.get_bytes(key))
    return dataclasses.replace(dataset, storage_uri=f"s3://{bucket}/{prefix}", base=base, version=version)


def expected_name(
    dataset: DatasetRef, space, tuning: TuningSettings, settings: SageMakerSettings, image: str = DEEPAR_US_EAST_1
) -> str:
    return tuning_job_name(dataset.version, build_tuning_request(dataset, space, tuning, settings, image))


def description(
    name: str,
    status: str,
    *,
    max_jobs: int = 20,
    completed: int = 0,
    running: int = 0,
    failed: int = 0,
    stopped: int = 0,
    best: dict[str, Any] | None = None,
    failure: str | None = None,
) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob's answer at one moment of a job's life."""
    answer: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": arn("hyper-parameter-tuning-job", name),
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:mean_wQuantileLoss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": 3},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": T0,
        "TrainingJobStatusCounters": {
            "Completed": completed,
            "InProgress": running,
            "RetryableError": 0,
            "NonRetryableError": failed,
            "Stopped": stopped,
        },
        "ObjectiveStatusCounters": {"Succeeded": completed, "Pending": running, "Failed": failed},
    }
    if best:
        answer["BestTrainingJob"] = best
    if failure:
        answer["FailureReason"] = failure
    return answer


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


def training_summary(
    tuning: str,
    index: int,
    status: str,
    value: float | None = None,
    hp: dict[str, str] | None = None,
    failure: str | None = None,
):
    """One entry of ListTrainingJobsForHyperParameterTuningJob (and a BestTrainingJob)."""
    name = f"{tuning}-{index:03d}-{index * 1111:08x}"
    summary: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": arn("training-job", name),
        "TuningJobName": tuning,
        "CreationTime": T0 + timedelta(minutes=index),
        "TrainingStartTime": T0 + timedelta(minutes=index, seconds=30),
        "TrainingJobStatus": status,
        "TunedHyperParameters": hp
        or {"epochs": str(10 + index), "learning_rate": "0.0031", "likelihood": "student-T", "num_cells": "40"},
    }
    if status != "InProgress":
        summary["TrainingEndTime"] = T0 + timedelta(minutes=index + 7, seconds=30)
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": "Minimize",
            "MetricName": "test:mean_wQuantileLoss",
            "Value": value,
        }
        summary["ObjectiveStatus"] = "Succeeded"
    elif status == "Failed":
        summary["ObjectiveStatus"] = "Failed"
    if failure:
        summary["FailureReason"] = failure
    return summary


def stub_launch(stub: Stubber, name: str) -> None:
    """No job of that name yet; CreateHyperParameterTuningJob accepts the request."""
    stub.add_client_error(
        "describe_hyper_parameter_tuning_job",
        service_error_code="ResourceNotFound",
        service_message=f"Amazon SageMaker can't find a tuning job with name {name}",
        http_status_code=400,
        expected_params={"HyperParameterTuningJobName": name},
    )
    stub.add_response(
        "create_hyper_parameter_tuning_job",
        {"HyperParameterTuningJobArn": arn("hyper-parameter-tuning-job", name)},
        {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": ANY,
            "TrainingJobDefinition": ANY,
            "Tags": ANY,
        },
    )


def stub_describes(stub: Stubber, answers: list[dict[str, Any]]) -> None:
    for answer in answers:
        stub.add_response(
            "describe_hyper_parameter_tuning_job",
            answer,
            {"HyperParameterTuningJobName": answer["HyperParameterTuningJobName"]},
        )


def stub_trials(stub: Stubber, name: str, summaries: list[dict[str, Any]], page: int = 2) -> None:
    """The training jobs of a tuning job, ``page`` at a time (so pagination is exercised)."""
    pages = [summaries[i : i + page] for i in range(0, len(summaries), page)] or [[]]
    for number, chunk in enumerate(pages):
        expected = {"HyperParameterTuningJobName": name, "SortBy": "CreationTime", "SortOrder": "Ascending"}
        if number:
            expected["NextToken"] = f"page-{number}"
        answer: dict[str, Any] = {"TrainingJobSummaries": chunk}
        if number + 1 < len(pages):
            answer["NextToken"] = f"page-{number + 1}"
        stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", answer, expected)


def completed_run(name: str, max_jobs: int = 4) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A job's life, InProgress → Completed with 3 of 4 trials done and 1 failed: the
    describe answers in order, and the training jobs it lists at the end."""
    trials = [
        training_summary(name, 1, "Completed", 0.1832),
        training_summary(name, 2, "Failed", failure="AlgorithmError: mini_batch_size larger than the number of series"),
        training_summary(
            name,
            3,
            "Completed",
            0.1214,
            hp={"epochs": "31", "learning_rate": "0.0008", "likelihood": "gaussian", "num_cells": "64"},
        ),
        training_summary(name, 4, "Completed", 0.1409),
    ]
    best = {k: v for k, v in trials[2].items() if k != "TuningJobName"}
    best["TuningJobName"] = name
    describes = [
        description(name, "InProgress", max_jobs=max_jobs, running=3),
        description(name, "InProgress", max_jobs=max_jobs, running=3),  # no change: logged once
        description(
            name,
            "InProgress",
            max_jobs=max_jobs,
            completed=1,
            running=2,
            failed=1,
            best={**trials[0], "TuningJobName": name},
        ),
        description(name, "Completed", max_jobs=max_jobs, completed=3, failed=1, best=best),
    ]
    return describes, trials


def training_job_description(name: str, tuning: str, output: str, hyperparameters: dict[str, str]) -> dict[str, Any]:
    """DescribeTrainingJob of a finished DeepAR training job that a tuning job launched."""
    return {
        "TrainingJobName": name,
        "TrainingJobArn": arn("training-job", name),
        "TuningJobArn": arn("hyper-parameter-tuning-job", tuning),
        "ModelArtifacts": {"S3ModelArtifacts": f"{output}{name}/output/model.tar.gz"},
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {"TrainingImage": DEEPAR_US_EAST_1, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "ResourceConfig": {"InstanceType": "ml.c5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": T0,
        "TrainingTimeInSeconds": 412,
        "BillableTimeInSeconds": 412,
    }
