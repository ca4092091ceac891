"""The registry job: the best training job of a tuning job as a SageMaker Model (the same name
on every rerun), optionally a model package pending approval, and a model card in the store."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from deepar_assets.domain.hyperparameters import from_strings
from deepar_assets.engines.base import MODEL_CARD, Log, RegisteredModel, TuningResult
from deepar_assets.engines.sagemaker.parts import EngineParts
from deepar_assets.engines.sagemaker.requests import (
    DEEPAR_ALGORITHM,
    build_model_package_request,
    build_model_request,
    error_text,
    is_missing,
    library_versions,
    model_name_for,
)
from deepar_assets.errors import ConfigurationError, TrainingError


class RegistryJobs(EngineParts):
    """The registry half of :class:`~deepar_assets.engines.sagemaker.SageMakerEngine`."""

    # -- the best model -----------------------------------------------------------------
    def register_best(self, tuning: TuningResult, log: Log, members: int = 1) -> RegisteredModel:
        """The tuning job's best training job as a SageMaker Model (same name on every rerun),
        optionally a model package pending approval, and a model card in the store. One
        network: ``members`` > 1 is the local engine's ensemble, not built here (it would take
        a training job per member); best_model warns of it."""
        if tuning.engine != self.name:
            raise ConfigurationError(
                f"tuning run {tuning.run_id} came from the {tuning.engine} engine; the sagemaker engine registers only "
                "SageMaker tuning jobs: rematerialize tuning_run with DEEPAR_BACKEND=sagemaker"
            )
        dataset, job = tuning.dataset, tuning.run_id
        description = self.describe_tuning_job(job)
        if description is None:
            raise TrainingError(f"SageMaker tuning job {job} does not exist in {self.region}; rematerialize tuning_run")
        # This job's best, not OverallBestTrainingJob: with a warm start, that may be a parent's
        # job, trained on an older data version.
        best = description.get("BestTrainingJob")
        if not best:
            counters = description.get("TrainingJobStatusCounters")
            raise TrainingError(
                f"SageMaker tuning job {job} has no best training job (status {description['HyperParameterTuningJobStatus']}, {counters})"
            )
        training_name = best["TrainingJobName"]
        training = self._call(
            "describe_training_job", f"training job {training_name} (best of {job})", TrainingJobName=training_name
        )
        artifacts = (training.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        if not artifacts:
            raise TrainingError(
                f"training job {training_name} (best of {job}) has no model artifacts (status {training.get('TrainingJobStatus')})"
            )
        image = training["AlgorithmSpecification"]["TrainingImage"]
        model_name = model_name_for(dataset.version, job, training_name)
        tags = [
            {"Key": "deepar:data-version", "Value": dataset.version},
            {"Key": "deepar:tuning-job", "Value": job},
            {"Key": "deepar:managed-by", "Value": "deepar-assets"},
        ]
        model_arn = self._ensure_model(
            build_model_request(model_name, image, artifacts, self.settings.role_arn, tags), log
        )

        metric = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        objective = {
            "name": metric.get("MetricName", tuning.objective_metric),
            "value": metric.get("Value"),
            "trial": next((t.number for t in tuning.trials if t.name == training_name), None),
            "training_job": training_name,
        }
        group_arn = package_arn = None
        if self.settings.model_package_group:
            group_arn = self._ensure_group(self.settings.model_package_group, log)
            properties = {
                "data_version": dataset.version,
                "tuning_job": job,
                "training_job": training_name,
                "model_name": model_name,
                "objective": f"{objective['name']}={objective['value']}",
            }
            description_text = f"DeepAR on data version {dataset.version}: best of tuning job {job} ({objective['name']}={objective['value']})"
            request = build_model_package_request(
                self.settings.model_package_group, model_name, image, artifacts, description_text, properties
            )
            package_arn = self._call(
                "create_model_package", f"model {model_name} in group {self.settings.model_package_group}", **request
            )["ModelPackageArn"]
            log(f"model package {package_arn} registered, pending manual approval")

        hyperparameters = from_strings(
            {k: v for k, v in (training.get("HyperParameters") or {}).items() if not k.startswith("_")}
        )
        arns = {
            "model_arn": model_arn,
            "model_package_arn": package_arn,
            "model_package_group_arn": group_arn,
            "tuning_job_arn": description["HyperParameterTuningJobArn"],
            "training_job_arn": training.get("TrainingJobArn") or best.get("TrainingJobArn"),
        }
        card = {
            "model_id": model_name,
            "engine": self.name,
            "model_type": f"SageMaker built-in DeepAR ({DEEPAR_ALGORITHM})",
            "data_version": dataset.version,
            "dataset_uri": dataset.uri(dataset.base),
            "trained_on": f"train channel (history up to T - {2 * dataset.prediction_length} periods), scored on the test channel",
            "last_period": dataset.last_period,
            "prediction_length": dataset.prediction_length,
            "freq": dataset.freq,
            "cardinality": dataset.cardinality,
            "dynamic_feat": dataset.dynamic_feat,
            "hyperparameters": hyperparameters,
            "objective": objective,
            "tuning_run": job,
            "seed": tuning.settings.seed,
            "training_settings": asdict(tuning.settings),
            "train_seconds": training.get("TrainingTimeInSeconds"),
            "billable_seconds": training.get("BillableTimeInSeconds"),
            "library_versions": library_versions(),
            "sagemaker": {
                **arns,
                "region": self.region,
                "model_name": model_name,
                "training_job": training_name,
                "model_artifacts": artifacts,
                "image_uri": image,
                **({"role_arn": self.settings.role_arn} if self.settings.role_arn_in_card else {}),
                "model_package_group": self.settings.model_package_group,
                "instance": f"{training.get('ResourceConfig', {}).get('InstanceCount', '?')} × {training.get('ResourceConfig', {}).get('InstanceType', '?')}",
            },
        }
        self.store.put_bytes(
            f"models/{model_name}/{MODEL_CARD}", json.dumps(card, indent=1, sort_keys=True, default=str).encode()
        )
        details = {
            k: v
            for k, v in {
                **arns,
                "training_job": training_name,
                "model_artifacts": artifacts,
                "model_card": self.store.uri(f"models/{model_name}/{MODEL_CARD}"),
            }.items()
            if v is not None
        }
        return RegisteredModel(model_id=model_name, uri=model_arn, card=card, details=details)

    def _ensure_model(self, request: dict[str, Any], log: Log) -> str:
        """Create the model, or reuse the one a rerun finds with the same artifacts."""
        from botocore.exceptions import ClientError

        name = request["ModelName"]
        try:
            existing = self.client.describe_model(ModelName=name)
        except ClientError as exc:
            if not is_missing(exc, codes=(), phrases=("Could not find",)):
                raise TrainingError(f"SageMaker DescribeModel for {name} failed: {error_text(exc)}") from exc
            existing = None
        if existing is not None:
            theirs = (existing.get("PrimaryContainer") or {}).get("ModelDataUrl")
            if theirs != request["PrimaryContainer"]["ModelDataUrl"]:
                raise TrainingError(
                    f"SageMaker model {name} exists with other artifacts ({theirs}); delete it or rename"
                )
            log(f"SageMaker model {name} already exists with these artifacts: {existing['ModelArn']}")
            return existing["ModelArn"]
        arn = self._call("create_model", f"model {name}", **request)["ModelArn"]
        log(f"SageMaker model {name} created from {request['PrimaryContainer']['ModelDataUrl']}: {arn}")
        return arn

    def _ensure_group(self, group: str, log: Log) -> str:
        from botocore.exceptions import ClientError

        try:
            return self.client.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
        except ClientError as exc:
            if not is_missing(
                exc, codes=("ResourceNotFound",), phrases=("does not exist", "not found", "Could not find")
            ):
                raise TrainingError(
                    f"SageMaker DescribeModelPackageGroup for {group} failed: {error_text(exc)}"
                ) from exc
        arn = self._call(
            "create_model_package_group",
            f"model package group {group}",
            ModelPackageGroupName=group,
            ModelPackageGroupDescription="DeepAR forecasters (deepar-assets)",
            Tags=[{"Key": "deepar:managed-by", "Value": "deepar-assets"}],
        )["ModelPackageGroupArn"]
        log(f"model package group {group} created: {arn}")
        return arn
