"""SageMaker's built-in DeepAR: a hyperparameter tuning job, then a Model (and a model package).

Every request is built by a pure function (:func:`build_tuning_request`,
:func:`build_model_request`, :func:`build_model_package_request`) and sent as it is with
boto3's ``sagemaker`` client, so what goes to AWS is plain data that tests read back from an
HTTP endpoint. The sagemaker SDK is used for one thing it knows better than this project: the
DeepAR image URI of each region (:func:`deepar_image_uri`, from ``sagemaker-core``, the core
package of SDK v3). The SDK's ``HyperparameterTuner`` (DESIGN.md) is not used: the request it
would send is stated here in full, where tests can read it back, and the full SDK (sagemaker
3.x, with sagemaker-train) would add mlflow and move pyarrow in the install.

No Dagster here: progress goes to the ``log`` callable the asset passes in; sleeping between
polls is injectable, so tests run without waiting.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from typing import Any

from deepar_assets.constants import QUANTILES, TEST, TRAIN
from deepar_assets.domain.hyperparameters import (
    OBJECTIVES,
    ContinuousRange,
    SearchSpace,
    from_strings,
    split_fixed,
    to_sagemaker_ranges,
    to_strings,
    validate_space,
)
from deepar_assets.engines.base import (
    MODEL_CARD,
    DatasetRef,
    Log,
    RegisteredModel,
    TrainingEngine,
    Trial,
    TuningResult,
    TuningSettings,
)
from deepar_assets.errors import ConfigurationError, TrainingError
from deepar_assets.storage.base import ObjectStore

DEEPAR_ALGORITHM = "forecasting-deepar"
NAME_PREFIX = "deepar-"
TUNING_OUTPUT = "models/sagemaker-training"  # under the storage root: <training job>/output/model.tar.gz
MAX_TUNING_NAME = 32  # SageMaker's limit for tuning job names
MAX_MODEL_NAME = 63
MAX_LAUNCH_ATTEMPTS = 9  # <name>, <name>-2 … <name>-9: new jobs after failed or stopped ones
UNSEEN_POLLS = 5  # polls a just-created job may take to become visible to Describe
WARM_START_CANDIDATES = 10  # newest finished tuning jobs looked at for warm_start="previous"
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
_FAILED_STATES = ("Failed", "Stopped", "Deleting", "DeleteFailed")

# On-demand USD per instance-hour of SageMaker *training* in us-east-1 (list prices; other
# regions cost more or less, savings plans less). Override or extend with the training
# resource's ``instance_prices``; check https://aws.amazon.com/sagemaker/pricing/.
DEFAULT_PRICES: dict[str, float] = {
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.m5.12xlarge": 2.765,
    "ml.m4.xlarge": 0.24,
    "ml.m4.2xlarge": 0.48,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.c5.9xlarge": 1.836,
    "ml.c4.xlarge": 0.239,
    "ml.c4.2xlarge": 0.477,
    "ml.c4.4xlarge": 0.955,
    "ml.p2.xlarge": 1.125,
    "ml.p3.2xlarge": 3.825,
    "ml.g4dn.xlarge": 0.7364,
    "ml.g4dn.2xlarge": 0.94,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
}


# -- settings ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SageMakerSettings:
    """How the tuning job runs on AWS (the search itself is in :class:`TuningSettings`)."""

    role_arn: str  # the execution role SageMaker's training jobs assume
    instance_type: str = "ml.c5.2xlarge"
    instance_count: int = 1
    volume_size_gb: int = 30
    max_parallel_jobs: int = 3
    max_runtime_s: int = 3600  # per training job; also the bound of the cost guard
    early_stopping: str = "Off"  # Off or Auto (SageMaker stops trials that do not improve)
    poll_interval_s: float = 60.0
    warm_start: str = "none"  # none, previous, or the name of a finished tuning job
    max_cost_usd: float | None = 50.0  # refuse to launch a job that can cost more; None: no ceiling
    prices: Mapping[str, float] = field(default_factory=dict)  # USD per instance-hour, over DEFAULT_PRICES
    model_package_group: str | None = None  # register best models in this group (created if missing)
    image_uri: str | None = None  # default: the region's DeepAR image, from the sagemaker SDK

    def __post_init__(self) -> None:
        if not _ROLE_ARN.match(self.role_arn or ""):
            raise ConfigurationError(
                f"SageMaker execution role {self.role_arn!r}: expected an IAM role ARN like "
                "arn:aws:iam::123456789012:role/deepar-sagemaker-execution (set SAGEMAKER_ROLE_ARN)"
            )
        positive = {
            "instance_count": self.instance_count,
            "volume_size_gb": self.volume_size_gb,
            "max_parallel_jobs": self.max_parallel_jobs,
            "max_runtime_s": self.max_runtime_s,
        }
        for name, value in positive.items():
            if value < 1:
                raise ConfigurationError(f"SageMaker setting {name} must be at least 1, got {value}")
        if self.max_runtime_s > 28 * 24 * 3600:
            raise ConfigurationError(
                f"SageMaker setting max_runtime_s {self.max_runtime_s} is above SageMaker's 28 days"
            )
        if not self.instance_type.startswith("ml."):
            raise ConfigurationError(
                f"SageMaker instance_type {self.instance_type!r}: expected an ml.* type such as ml.c5.2xlarge"
            )
        if self.early_stopping not in ("Off", "Auto"):
            raise ConfigurationError(f"SageMaker early_stopping {self.early_stopping!r}: expected Off or Auto")
        if self.poll_interval_s < 0:
            raise ConfigurationError(f"SageMaker poll_interval_s must not be negative, got {self.poll_interval_s}")
        if self.max_cost_usd is not None and self.max_cost_usd <= 0:
            raise ConfigurationError(
                f"SageMaker max_cost_usd must be above 0 (or unset for no ceiling), got {self.max_cost_usd}"
            )
        for instance, price in self.prices.items():
            if not (isinstance(price, (int, float)) and math.isfinite(price) and price >= 0):
                raise ConfigurationError(
                    f"SageMaker instance price of {instance}: expected USD per hour >= 0, got {price!r}"
                )
        for name in filter(
            None, [self.model_package_group] + ([] if self.warm_start in ("none", "previous") else [self.warm_start])
        ):
            if not _NAME.match(name):
                raise ConfigurationError(
                    f"SageMaker name {name!r}: only letters, digits and hyphens, starting with a letter or digit"
                )

    def price_per_hour(self) -> float | None:
        return {**DEFAULT_PRICES, **self.prices}.get(self.instance_type)


# -- the image, the names and the cost ----------------------------------------------------
def deepar_image_uri(region: str) -> str:
    """The built-in DeepAR image of a region, as the sagemaker SDK knows it (offline)."""
    from sagemaker.core import image_uris  # 2-3 s to import; only the SageMaker backend needs it

    try:
        return image_uris.retrieve(DEEPAR_ALGORITHM, region)
    except ValueError as exc:
        raise ConfigurationError(f"no SageMaker DeepAR image for region {region!r}: {exc}") from None


def deepar_time_freq(freq: str) -> str:
    """DeepAR's ``time_freq`` from a pandas frequency: W-FRI → W (DeepAR knows M, W, D, H and
    min, each with an optional multiple; the weekday comes from the records' ``start``)."""
    match = re.fullmatch(r"(\d*)([A-Za-z]+)(-[A-Za-z]+)?", freq)
    units = {"W": "W", "D": "D", "H": "H", "h": "H", "min": "min", "T": "min", "M": "M", "ME": "M", "MS": "M"}
    if not match or match.group(2) not in units:
        raise ConfigurationError(f"frequency {freq!r}: SageMaker DeepAR's time_freq takes M, W, D, H or min")
    return f"{match.group(1)}{units[match.group(2)]}"


def require_s3(dataset: DatasetRef) -> None:
    if not dataset.storage_uri.startswith("s3://"):
        raise ConfigurationError(
            f"dataset {dataset.version} is in {dataset.storage_uri!r}, but SageMaker reads its channels from S3: "
            "set DEEPAR_STORAGE=s3://bucket/prefix (and rematerialize s3_datasets) to train with DEEPAR_BACKEND=sagemaker"
        )


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def tuning_job_name(data_version: str, request: dict[str, Any], attempt: int = 1) -> str:
    """``deepar-<data version>-<hash of the request>[-<attempt>]``: the same data and settings
    give the same name (so a rerun attaches to the job instead of paying twice); at most 32
    characters, as SageMaker requires."""
    name = f"{NAME_PREFIX}{data_version[:8]}-{_digest(request)[:8]}" + (f"-{attempt}" if attempt > 1 else "")
    assert len(name) <= MAX_TUNING_NAME and _NAME.match(name), name
    return name


def model_name_for(data_version: str, tuning_job: str, training_job: str) -> str:
    name = f"{NAME_PREFIX}{data_version[:8]}-{_digest([tuning_job, training_job])[:8]}"
    assert len(name) <= MAX_MODEL_NAME and _NAME.match(name), name
    return name


@dataclass(frozen=True)
class CostBound:
    """The most a tuning job can cost: every training job running to its time limit."""

    max_jobs: int
    instance_type: str
    instance_count: int
    hours_per_job: float
    usd_per_hour: float | None

    @property
    def usd(self) -> float | None:
        if self.usd_per_hour is None:
            return None
        return round(self.max_jobs * self.instance_count * self.hours_per_job * self.usd_per_hour, 2)

    def describe(self) -> str:
        figures = f"{self.max_jobs} jobs × {self.instance_count} × {self.instance_type} × {self.hours_per_job:g} h"
        if self.usd_per_hour is None:
            return f"{figures} × (no price known for {self.instance_type})"
        return f"{figures} × ${self.usd_per_hour:g}/h = ${self.usd:,.2f}"


def cost_bound(max_jobs: int, settings: SageMakerSettings) -> CostBound:
    return CostBound(
        max_jobs=max_jobs,
        instance_type=settings.instance_type,
        instance_count=settings.instance_count,
        hours_per_job=settings.max_runtime_s / 3600,
        usd_per_hour=settings.price_per_hour(),
    )


def check_cost(bound: CostBound, ceiling: float | None) -> None:
    """Refuse to launch what could cost more than the ceiling (or an unknown amount)."""
    if ceiling is None:
        return
    if bound.usd is None:
        raise ConfigurationError(
            f"cost guard: no price is known for {bound.instance_type}, so the tuning job's cost cannot be bounded "
            f"below the ceiling of ${ceiling:,.2f}; add its USD per instance-hour to instance_prices, or unset max_cost_usd"
        )
    if bound.usd > ceiling:
        raise ConfigurationError(
            f"cost guard: the tuning job can cost up to {bound.describe()}, above the ceiling max_cost_usd=${ceiling:,.2f}; "
            "lower max_trials, max_runtime_hours or instance_count, choose a cheaper instance_type, or raise max_cost_usd"
        )


# -- requests -----------------------------------------------------------------------------
def static_hyperparameters(dataset: DatasetRef, settings: TuningSettings, fixed: Mapping[str, Any]) -> dict[str, str]:
    """What DeepAR needs besides the searched ranges, as the strings SageMaker passes."""
    values: dict[str, Any] = {
        "time_freq": deepar_time_freq(dataset.freq),
        "prediction_length": dataset.prediction_length,
        "num_dynamic_feat": len(dataset.dynamic_feat) if dataset.dynamic_feat else "ignore",
        "cardinality": list(dataset.cardinality) if dataset.cardinality else "ignore",
        "test_quantiles": list(QUANTILES),
        "num_eval_samples": settings.num_eval_samples,
    }
    values.update(fixed)  # min == max in the search space: a value, not a range
    return to_strings(values)


def fixed_and_searched(dataset: DatasetRef, space: SearchSpace) -> tuple[dict[str, Any], SearchSpace]:
    """The tunable hyperparameters this run fixes (typed), and the ranges it searches.
    ``context_length`` left out of the space is fixed at the prediction length (SageMaker's
    advice: about the same)."""
    fixed, searched = split_fixed(space)
    if "context_length" not in space:
        fixed["context_length"] = dataset.prediction_length
    return fixed, searched


def build_tuning_request(
    dataset: DatasetRef,
    space: SearchSpace,
    settings: TuningSettings,
    sagemaker: SageMakerSettings,
    image_uri: str,
) -> dict[str, Any]:
    """The CreateHyperParameterTuningJob request, without its name and warm start."""
    require_s3(dataset)
    validate_space(space)
    if settings.max_trials < 1:
        raise ConfigurationError(f"max_trials must be at least 1, got {settings.max_trials}")
    if settings.objective_metric not in OBJECTIVES:
        raise ConfigurationError(f"objective {settings.objective_metric!r}: expected one of {sorted(OBJECTIVES)}")
    for name, rng in space.items():
        if getattr(rng, "scaling", None) == "ReverseLogarithmic" and not (
            isinstance(rng, ContinuousRange) and rng.max_value < 1
        ):
            raise ConfigurationError(
                f"search space: {name} uses ReverseLogarithmic scaling, which SageMaker allows only for continuous ranges below 1"
            )
    fixed, searched = fixed_and_searched(dataset, space)
    if "epochs" not in space:
        raise ConfigurationError(
            "search space: DeepAR requires epochs; give it a range, or min_value == max_value to fix it"
        )
    if not searched:
        raise ConfigurationError(
            "search space: every hyperparameter is fixed (min_value == max_value), so there is nothing to tune"
        )
    channels = [
        {
            "ChannelName": channel,
            # One object per channel (data.json or data.json.gz): DeepAR picks the format by extension.
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": dataset.uri(f"{dataset.base}/{dataset.channels[channel]}"),
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
        for channel in (TRAIN, TEST)
    ]
    return {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {
                "Type": OBJECTIVES[settings.objective_metric],
                "MetricName": settings.objective_metric,
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": settings.max_trials,
                "MaxParallelTrainingJobs": min(sagemaker.max_parallel_jobs, settings.max_trials),
            },
            "ParameterRanges": to_sagemaker_ranges(searched),
            "TrainingJobEarlyStoppingType": sagemaker.early_stopping,
            "RandomSeed": settings.seed,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": static_hyperparameters(dataset, settings, fixed),
            "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
            "RoleArn": sagemaker.role_arn,
            "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": f"{dataset.storage_uri.rstrip('/')}/{TUNING_OUTPUT}/"},
            "ResourceConfig": {
                "InstanceType": sagemaker.instance_type,
                "InstanceCount": sagemaker.instance_count,
                "VolumeSizeInGB": sagemaker.volume_size_gb,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": sagemaker.max_runtime_s},
        },
        "Tags": [
            {"Key": "deepar:data-version", "Value": dataset.version},
            {"Key": "deepar:managed-by", "Value": "deepar-assets"},
        ],
    }


def warm_start_problems(parent: dict[str, Any], request: dict[str, Any]) -> list[str]:
    """Why a finished tuning job cannot be the warm-start parent of this request (SageMaker
    requires the same objective and algorithm, and each hyperparameter static or tuned in both)."""
    problems = []
    name = parent.get("HyperParameterTuningJobName", "?")
    status = parent.get("HyperParameterTuningJobStatus")
    if status not in ("Completed", "Stopped"):
        problems.append(f"{name} is {status}, not Completed or Stopped")
    config, ours = parent.get("HyperParameterTuningJobConfig") or {}, request["HyperParameterTuningJobConfig"]
    theirs_objective = (config.get("HyperParameterTuningJobObjective") or {}).get("MetricName")
    our_objective = ours["HyperParameterTuningJobObjective"]["MetricName"]
    if theirs_objective != our_objective:
        problems.append(f"{name} minimized {theirs_objective}, this run {our_objective}")
    definition = parent.get("TrainingJobDefinition") or {}
    image = (definition.get("AlgorithmSpecification") or {}).get("TrainingImage")
    our_image = request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"]
    if image != our_image:
        problems.append(f"{name} trained {image}, this run {our_image}")

    def tuned(ranges: dict[str, Any]) -> dict[str, set[str]]:
        return {
            kind: {r["Name"] for r in ranges.get(kind) or []}
            for kind in ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
        }

    if tuned(config.get("ParameterRanges") or {}) != tuned(ours["ParameterRanges"]):
        problems.append(
            f"{name} tuned {_names(tuned(config.get('ParameterRanges') or {}))}, this run {_names(tuned(ours['ParameterRanges']))}"
        )
    # SageMaker adds its own static hyperparameters (_tuning_objective_metric): not ours to compare.
    theirs_static = sorted(k for k in definition.get("StaticHyperParameters") or {} if not k.startswith("_"))
    our_static = sorted(request["TrainingJobDefinition"]["StaticHyperParameters"])
    if theirs_static != our_static:
        problems.append(f"{name} fixed {theirs_static}, this run {our_static}")
    return problems


def _channel_uris(job: dict[str, Any]) -> dict[str, str]:
    channels = (job.get("TrainingJobDefinition") or {}).get("InputDataConfig") or []
    return {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in channels}


def _names(tuned: dict[str, set[str]]) -> list[str]:
    return sorted(set().union(*tuned.values()))


def build_model_request(
    name: str, image_uri: str, model_data_url: str, role_arn: str, tags: list[dict[str, str]]
) -> dict[str, Any]:
    """The CreateModel request: the DeepAR image serving the best training job's artifacts."""
    return {
        "ModelName": name,
        "PrimaryContainer": {"Image": image_uri, "ModelDataUrl": model_data_url},
        "ExecutionRoleArn": role_arn,
        "Tags": tags,
    }


def build_model_package_request(
    group: str, model_name: str, image_uri: str, model_data_url: str, description: str, properties: dict[str, str]
) -> dict[str, Any]:
    """The CreateModelPackage request: a new version in the group, waiting for approval."""
    return {
        "ModelPackageGroupName": group,
        "ModelPackageDescription": description[:1000],
        "InferenceSpecification": {
            "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        "ModelApprovalStatus": "PendingManualApproval",
        "CustomerMetadataProperties": properties,
        "ClientToken": model_name,  # a rerun for the same model creates no second version
    }


def progress_line(description: dict[str, Any]) -> str:
    """One line of a tuning job's state: training jobs completed / running / failed, best so far."""
    counters = description.get("TrainingJobStatusCounters") or {}
    limits = (description.get("HyperParameterTuningJobConfig") or {}).get("ResourceLimits") or {}
    failed = counters.get("RetryableError", 0) + counters.get("NonRetryableError", 0)
    line = (
        f"tuning job {description['HyperParameterTuningJobName']}: {description['HyperParameterTuningJobStatus']}, "
        f"training jobs {counters.get('Completed', 0)}/{limits.get('MaxNumberOfTrainingJobs', '?')} completed, "
        f"{counters.get('InProgress', 0)} running, {failed} failed"
    )
    if counters.get("Stopped"):
        line += f", {counters['Stopped']} stopped"
    best = description.get("BestTrainingJob") or {}
    metric = best.get("FinalHyperParameterTuningJobObjectiveMetric")
    if metric:
        line += f"; best so far {metric['MetricName']}={metric['Value']:.5g} ({best['TrainingJobName']})"
    else:
        line += "; no objective value yet"
    return line


def to_trial(number: int, summary: dict[str, Any], fixed: Mapping[str, Any]) -> Trial:
    """One training job of a tuning job as a Trial (SageMaker's strings typed back)."""
    status = summary["TrainingJobStatus"]
    metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric")
    objective = (
        float(metric["Value"]) if metric and summary.get("ObjectiveStatus", "Succeeded") == "Succeeded" else None
    )
    state = {"Completed": "COMPLETE", "Failed": "FAIL", "Stopped": "PRUNED", "Stopping": "PRUNED"}.get(
        status, "RUNNING"
    )
    error = summary.get("FailureReason")
    if state == "COMPLETE" and objective is None:
        state, error = "FAIL", error or f"completed without a {metric['MetricName'] if metric else 'objective'} value"
    start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
    duration = (end - start).total_seconds() if isinstance(start, datetime) and isinstance(end, datetime) else 0.0
    return Trial(
        number=number,
        hyperparameters={**fixed, **from_strings(summary.get("TunedHyperParameters") or {})},
        state=state,
        objective=objective,
        duration_s=round(duration, 2),
        metrics={metric["MetricName"]: float(metric["Value"])} if objective is not None else {},
        error=error,
        name=summary["TrainingJobName"],
    )


def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("deepar-assets", "sagemaker-core", "boto3", "botocore", "dagster"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _error_text(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', '?')}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


def _is_missing(
    exc: BaseException, codes: tuple[str, ...] = ("ResourceNotFound",), phrases: tuple[str, ...] = ()
) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    error = response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    return code in codes or (code == "ValidationException" and any(p in message for p in phrases))


@dataclass(frozen=True)
class Launch:
    """A tuning job that runs (just created, or found running or finished from an earlier run)."""

    name: str
    arn: str
    created: bool
    request: dict[str, Any]
    cost: CostBound
    fixed: dict[str, Any]


# -- the engine ---------------------------------------------------------------------------
class SageMakerEngine(TrainingEngine):
    """A SageMaker hyperparameter tuning job of the built-in DeepAR; the best training job
    becomes a SageMaker Model (and, optionally, a model package waiting for approval)."""

    name = "sagemaker"

    def __init__(
        self,
        client: Any,
        store: ObjectStore,
        settings: SageMakerSettings,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client  # boto3's sagemaker client
        self.store = store  # where model cards go (models/<model id>/model.json)
        self.settings = settings
        self.sleep = sleep
        self.region = client.meta.region_name
        self._image: str | None = settings.image_uri

    def image_uri(self) -> str:
        if self._image is None:
            self._image = deepar_image_uri(self.region)
        return self._image

    # -- calls ------------------------------------------------------------------------
    def _call(self, operation: str, what: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise TrainingError(f"SageMaker {operation} for {what} failed: {_error_text(exc)}") from exc

    def describe_tuning_job(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise TrainingError(
                f"SageMaker DescribeHyperParameterTuningJob for {name} failed: {_error_text(exc)}"
            ) from exc

    def console_url(self, name: str) -> str:
        return f"https://{self.region}.console.aws.amazon.com/sagemaker/home?region={self.region}#/hyper-tuning-jobs/{name}"

    # -- tuning -----------------------------------------------------------------------
    def launch(self, dataset: DatasetRef, space: SearchSpace, settings: TuningSettings, log: Log) -> Launch:
        """Create the tuning job, or attach to the one an earlier run created for the same
        data and settings. The cost guard refuses before anything is created (following an
        existing job costs nothing more, so it is not refused)."""
        require_s3(dataset)  # before the image lookup: the likeliest misconfiguration, said first
        request = build_tuning_request(dataset, space, settings, self.settings, self.image_uri())
        bound = cost_bound(settings.max_trials, self.settings)
        fixed, _ = fixed_and_searched(dataset, space)
        parents = self.warm_start_parents(dataset, request, log)
        if parents:
            identical = all(_channel_uris(p) == _channel_uris(request) for p in parents)
            request["WarmStartConfig"] = {
                "ParentHyperParameterTuningJobs": [
                    {"HyperParameterTuningJobName": p["HyperParameterTuningJobName"]} for p in parents
                ],
                "WarmStartType": "IdenticalDataAndAlgorithm" if identical else "TransferLearning",
            }
        for attempt in range(1, MAX_LAUNCH_ATTEMPTS + 1):
            name = tuning_job_name(dataset.version, request, attempt)
            existing = self.describe_tuning_job(name)
            if existing is None:
                check_cost(bound, self.settings.max_cost_usd)
                log(
                    f"creating SageMaker tuning job {name}: {settings.max_trials} training jobs ({self.settings.max_parallel_jobs} at a time) "
                    f"of {self.image_uri()} on {self.settings.instance_count} × {self.settings.instance_type}; "
                    f"at most {bound.describe()}"
                )
                response = self._call(
                    "create_hyper_parameter_tuning_job",
                    f"tuning job {name}",
                    HyperParameterTuningJobName=name,
                    **request,
                )
                log(f"console: {self.console_url(name)}")
                return Launch(name, response["HyperParameterTuningJobArn"], True, request, bound, fixed)
            status = existing["HyperParameterTuningJobStatus"]
            if status in _FAILED_STATES or status == "Stopping":
                log(f"tuning job {name} exists and is {status}; launching a new attempt")
                continue
            log(
                f"tuning job {name} exists ({status}) for the same data version and settings: following it instead of launching another"
            )
            return Launch(name, existing["HyperParameterTuningJobArn"], False, request, bound, fixed)
        raise TrainingError(
            f"{MAX_LAUNCH_ATTEMPTS} tuning jobs for data version {dataset.version} with these settings already failed or were "
            f"stopped (the last: {name}); change a setting or look at the failures first: {self.console_url(name)}"
        )

    def warm_start_parents(self, dataset: DatasetRef, request: dict[str, Any], log: Log) -> list[dict[str, Any]]:
        choice = self.settings.warm_start
        if choice == "none":
            return []
        if choice != "previous":
            parent = self.describe_tuning_job(choice)
            if parent is None:
                raise ConfigurationError(f"warm_start: tuning job {choice} does not exist in {self.region}")
            problems = warm_start_problems(parent, request)
            if problems:
                raise ConfigurationError(
                    f"warm_start: tuning job {choice} cannot be a parent of this run: {'; '.join(problems)}"
                )
            log(f"warm start from tuning job {choice}")
            return [parent]
        own = f"{NAME_PREFIX}{dataset.version[:8]}-"
        listing = self._call(
            "list_hyper_parameter_tuning_jobs",
            "the previous tuning job (warm_start=previous)",
            NameContains=NAME_PREFIX,
            StatusEquals="Completed",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=WARM_START_CANDIDATES * 2,
        )
        candidates = [s["HyperParameterTuningJobName"] for s in listing.get("HyperParameterTuningJobSummaries", [])]
        candidates = [c for c in candidates if c.startswith(NAME_PREFIX) and not c.startswith(own)][
            :WARM_START_CANDIDATES
        ]
        for name in candidates:
            parent = self.describe_tuning_job(name)
            problems = warm_start_problems(parent, request) if parent else [f"{name} disappeared"]
            if not problems:
                log(f"warm start from the previous tuning job {name} (data changed: transfer learning)")
                return [parent]
            log(f"warm start: skipping {name}: {'; '.join(problems)}")
        log("warm start: no earlier completed tuning job on another data version fits; starting cold")
        return []

    def wait(self, name: str, log: Log) -> dict[str, Any]:
        """Poll until the tuning job completes; log each change. When the job fails, raise
        with SageMaker's reason; when anything interrupts the wait (the Dagster run is
        cancelled, the process is interrupted), stop the job and re-raise."""
        started = time.monotonic()
        last = None
        finished = seen = False
        unseen = 0
        try:
            while True:
                description = self.describe_tuning_job(name)
                if description is None:
                    # A job just created may not be visible at once; one seen before was deleted.
                    unseen += 1
                    if seen or unseen > UNSEEN_POLLS:
                        finished = seen
                        raise TrainingError(
                            f"SageMaker tuning job {name} {'disappeared' if seen else 'never became visible'} while it was followed"
                        )
                    self.sleep(self.settings.poll_interval_s)
                    continue
                seen = True
                status = description["HyperParameterTuningJobStatus"]
                line = progress_line(description)
                if line != last:
                    log(f"{line} [{time.monotonic() - started:.0f}s]")
                    last = line
                if status == "Completed":
                    finished = True
                    return description
                if status in _FAILED_STATES:
                    finished = True
                    reason = description.get("FailureReason") or "SageMaker gave no reason"
                    if status == "Failed":
                        raise TrainingError(f"SageMaker tuning job {name} failed: {reason} ({self.console_url(name)})")
                    raise TrainingError(
                        f"SageMaker tuning job {name} ended {status} before it completed: {reason} ({self.console_url(name)})"
                    )
                self.sleep(self.settings.poll_interval_s)
        except BaseException:
            if not finished:
                self.stop(name, log)
            raise

    def stop(self, name: str, log: Log) -> None:
        log(f"stopping SageMaker tuning job {name}: the run following it was interrupted")
        try:
            self.client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except Exception as exc:  # noqa: BLE001 - the interruption is what the user must see
            log(
                f"could not stop tuning job {name} ({_error_text(exc)}); stop it in the console: {self.console_url(name)}"
            )
        else:
            log(f"stop requested: SageMaker stops the running training jobs of {name} (status Stopping, then Stopped)")

    def trials(self, name: str, fixed: Mapping[str, Any]) -> list[Trial]:
        from botocore.exceptions import BotoCoreError, ClientError

        paginator = self.client.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
        summaries = []
        try:
            for page in paginator.paginate(
                HyperParameterTuningJobName=name, SortBy="CreationTime", SortOrder="Ascending"
            ):
                summaries.extend(page.get("TrainingJobSummaries", []))
        except (ClientError, BotoCoreError) as exc:
            raise TrainingError(
                f"SageMaker ListTrainingJobsForHyperParameterTuningJob for {name} failed: {_error_text(exc)}"
            ) from exc
        return [to_trial(number, summary, fixed) for number, summary in enumerate(summaries, start=1)]

    def tune(self, dataset: DatasetRef, space: SearchSpace, settings: TuningSettings, log: Log) -> TuningResult:
        launch = self.launch(dataset, space, settings, log)
        description = self.wait(launch.name, log)
        trials = self.trials(launch.name, launch.fixed)
        best = description.get("BestTrainingJob") or {}
        warm = launch.request.get("WarmStartConfig")
        return TuningResult(
            engine=self.name,
            objective_metric=settings.objective_metric,
            settings=settings,
            dataset=dataset,
            trials=trials,
            run_id=launch.name,
            details={
                "tuning_job_name": launch.name,
                "tuning_job_arn": launch.arn,
                "tuning_job_console": self.console_url(launch.name),
                "launched_by_this_run": launch.created,
                "max_cost_usd": launch.cost.usd,
                "max_cost": launch.cost.describe(),
                "cost_ceiling_usd": self.settings.max_cost_usd,
                "instance": f"{self.settings.instance_count} × {self.settings.instance_type}",
                "image_uri": launch.request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"],
                "warm_start_parents": [p["HyperParameterTuningJobName"] for p in warm["ParentHyperParameterTuningJobs"]]
                if warm
                else [],
                "best_training_job": best.get("TrainingJobName"),
                "consumed_seconds": (description.get("ConsumedResources") or {}).get("RuntimeInSeconds"),
            },
        )

    # -- the best model -----------------------------------------------------------------
    def register_best(self, tuning: TuningResult, log: Log) -> RegisteredModel:
        """The tuning job's best training job as a SageMaker Model (same name on every rerun),
        optionally a model package pending approval, and a model card in the store."""
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
            "trained_on": f"train channel (history up to T - {2 * dataset.prediction_length} weeks), scored on the test channel",
            "last_week": dataset.last_week,
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
                "role_arn": self.settings.role_arn,
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
            if not _is_missing(exc, codes=(), phrases=("Could not find",)):
                raise TrainingError(f"SageMaker DescribeModel for {name} failed: {_error_text(exc)}") from exc
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
            if not _is_missing(
                exc, codes=("ResourceNotFound",), phrases=("does not exist", "not found", "Could not find")
            ):
                raise TrainingError(
                    f"SageMaker DescribeModelPackageGroup for {group} failed: {_error_text(exc)}"
                ) from exc
        arn = self._call(
            "create_model_package_group",
            f"model package group {group}",
            ModelPackageGroupName=group,
            ModelPackageGroupDescription="DeepAR weekly department sales forecasters (deepar-assets)",
            Tags=[{"Key": "deepar:managed-by", "Value": "deepar-assets"}],
        )["ModelPackageGroupArn"]
        log(f"model package group {group} created: {arn}")
        return arn

    # -- batch transform (forecasts) ----------------------------------------------------
    def describe_transform_job(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.describe_transform_job(TransformJobName=name)
        except ClientError as exc:
            if _is_missing(exc, codes=("ResourceNotFound",), phrases=("Could not find",)):
                return None
            raise TrainingError(f"SageMaker DescribeTransformJob for {name} failed: {_error_text(exc)}") from exc

    def transform(self, model_name: str, input_uri: str, output_base: str, digest: str, num_samples: int, log: Log) -> tuple[str, dict[str, Any]]:
        """Run a batch transform of the model on the JSON Lines at ``input_uri`` (or follow the
        one an earlier run started for the same model and input; a completed one is reused).
        Returns the job's name and its final description; the output is
        ``<output_base>/<job name>/<input file>.out``."""
        for attempt in range(1, MAX_LAUNCH_ATTEMPTS + 1):
            name = transform_job_name(model_name, digest, attempt)
            existing = self.describe_transform_job(name)
            if existing is None:
                request = build_transform_request(
                    model_name,
                    input_uri,
                    f"{output_base.rstrip('/')}/{name}/",
                    self.settings.instance_type,
                    num_samples,
                    tags=[{"Key": "deepar:managed-by", "Value": "deepar-assets"}, {"Key": "deepar:model", "Value": model_name}],
                )
                log(f"creating SageMaker batch transform job {name} of model {model_name} on {self.settings.instance_type}: {input_uri}")
                self._call("create_transform_job", f"transform job {name}", TransformJobName=name, **request)
                break
            status = existing["TransformJobStatus"]
            if status == "Completed":
                log(f"batch transform job {name} already completed for this model and input: reusing its output")
                return name, existing
            if status in ("Failed", "Stopped", "Stopping"):
                log(f"batch transform job {name} exists and is {status}; launching a new attempt")
                continue
            log(f"batch transform job {name} is {status}: following it")
            break
        else:
            raise TrainingError(
                f"{MAX_LAUNCH_ATTEMPTS} batch transform jobs of {model_name} on this input already failed or were stopped (the last: {name})"
            )
        return name, self.wait_transform(name, log)

    def wait_transform(self, name: str, log: Log) -> dict[str, Any]:
        """Poll a transform job until it completes; raise with SageMaker's reason when it fails;
        stop it when the wait is interrupted (the Dagster run is cancelled)."""
        finished = False
        last = None
        unseen = 0
        try:
            while True:
                description = self.describe_transform_job(name)
                if description is None:
                    unseen += 1
                    if unseen > UNSEEN_POLLS:
                        finished = True
                        raise TrainingError(f"SageMaker batch transform job {name} never became visible")
                    self.sleep(self.settings.poll_interval_s)
                    continue
                status = description["TransformJobStatus"]
                if status != last:
                    log(f"batch transform job {name}: {status}")
                    last = status
                if status == "Completed":
                    finished = True
                    return description
                if status in ("Failed", "Stopped"):
                    finished = True
                    reason = description.get("FailureReason") or "SageMaker gave no reason"
                    raise TrainingError(f"SageMaker batch transform job {name} ended {status}: {reason}")
                self.sleep(self.settings.poll_interval_s)
        except BaseException:
            if not finished:
                log(f"stopping SageMaker batch transform job {name}: the run following it was interrupted")
                try:
                    self.client.stop_transform_job(TransformJobName=name)
                except Exception as exc:  # noqa: BLE001 - the interruption is what the user must see
                    log(f"could not stop batch transform job {name} ({_error_text(exc)})")
            raise


# -- batch transform: requests and output -------------------------------------------------------
TRANSFORM_PREFIX = "forecasts/sagemaker-transform"  # under the storage root: <model>/<input digest>/…
TRANSFORM_INPUT = "data.json"
MAX_TRANSFORM_NAME = 63


def inference_config(num_samples: int, quantiles: tuple[float, ...] = QUANTILES) -> str:
    """DEEPAR_INFERENCE_CONFIG: how many sample paths, and which outputs (mean and quantiles)."""
    if num_samples < 1:
        raise ConfigurationError(f"num_samples must be at least 1, got {num_samples}")
    return json.dumps({"num_samples": num_samples, "output_types": ["mean", "quantiles"], "quantiles": [f"{q:g}" for q in quantiles]})


def transform_job_name(model_name: str, input_digest: str, attempt: int = 1) -> str:
    """The same model and input give the same name, so a rerun follows (or reuses) the job."""
    name = f"{NAME_PREFIX}{_digest([model_name, input_digest])[:16]}" + (f"-{attempt}" if attempt > 1 else "")
    assert len(name) <= MAX_TRANSFORM_NAME and _NAME.match(name), name
    return name


def build_transform_request(
    model_name: str, input_uri: str, output_uri: str, instance_type: str, num_samples: int, tags: list[dict[str, str]], instance_count: int = 1
) -> dict[str, Any]:
    """The CreateTransformJob request (without its name) of a DeepAR model: one record per
    line in and out, in the same order (SageMaker's DeepAR documentation: SingleRecord, Line,
    Line; the defaults break DeepAR), the inference configuration in DEEPAR_INFERENCE_CONFIG."""
    if not input_uri.startswith("s3://") or not output_uri.startswith("s3://"):
        raise ConfigurationError(f"batch transform reads and writes S3: got input {input_uri!r} and output {output_uri!r}")
    return {
        "ModelName": model_name,
        "BatchStrategy": "SingleRecord",
        "Environment": {"DEEPAR_INFERENCE_CONFIG": inference_config(num_samples)},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "application/jsonlines",
            "CompressionType": "None",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": output_uri, "Accept": "application/jsonlines", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": instance_count},
        "Tags": tags,
    }


def transform_input(records: list[dict[str, Any]], h: int, cut: int = 0) -> bytes:
    """The records as DeepAR's batch transform reads them: target less its last ``cut`` points,
    dynamic features to h weeks past it."""
    from deepar_assets.constants import FIELD_DYNAMIC_FEAT, FIELD_TARGET
    from deepar_assets.domain.channels import record_to_json

    lines = []
    for record in records:
        target = record[FIELD_TARGET]
        kept = len(target) - cut
        out = {**record, FIELD_TARGET: target[:kept]}
        if FIELD_DYNAMIC_FEAT in record:
            feats = record[FIELD_DYNAMIC_FEAT]
            if len(feats[0]) < kept + h:
                raise ConfigurationError(
                    f"record {len(lines) + 1} (cat {record.get('cat')}): dynamic_feat covers {len(feats[0])} weeks; "
                    f"forecasting {h} weeks after its {kept} target weeks needs {kept + h}"
                )
            out[FIELD_DYNAMIC_FEAT] = [row[: kept + h] for row in feats]
        lines.append(record_to_json(out))
    return b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)


def parse_transform_output(data: bytes, n: int, h: int, quantiles: tuple[float, ...] = QUANTILES, source: str = "the output") -> dict[str, Any]:
    """DeepAR's batch transform output (one JSON object per line, in the input's order) as
    {"mean", "p10" … "p90"} arrays (n, h). The order is the only key back to the series, so a
    line count other than the input's is refused."""
    import numpy as np

    lines = [line for line in data.splitlines() if line.strip()]
    if len(lines) != n:
        raise TrainingError(
            f"{source} has {len(lines)} forecast line(s) for {n} input record(s): forecasts are matched to series by order, "
            "so they cannot be matched"
        )
    out = {"mean": np.empty((n, h)), **{f"p{round(q * 100)}": np.empty((n, h)) for q in quantiles}}
    for number, line in enumerate(lines, start=1):
        try:
            prediction = json.loads(line)
            rows = {"mean": prediction["mean"], **{f"p{round(q * 100)}": prediction["quantiles"][f"{q:g}"] for q in quantiles}}
        except (ValueError, KeyError, TypeError) as exc:
            raise TrainingError(f"{source}, line {number}: not a DeepAR forecast with mean and quantiles {[f'{q:g}' for q in quantiles]} ({exc!r})") from None
        for key, values in rows.items():
            if len(values) != h:
                raise TrainingError(f"{source}, line {number}: {key} has {len(values)} values; expected {h} (prediction_length)")
            out[key][number - 1] = values
    if not all(np.isfinite(v).all() for v in out.values()):
        raise TrainingError(f"{source}: the forecasts contain non-finite values")
    return out


class SageMakerForecaster:
    """Forecasts with a registered SageMaker model by batch transform: the records go to S3 as
    JSON Lines, a transform job forecasts them, and the output lines come back in order."""

    engine_name = "sagemaker"
    batch_size = None  # each record is forecast alone (BatchStrategy=SingleRecord)

    def __init__(self, engine: SageMakerEngine, model: Any, dataset: DatasetRef, log: Log):
        if not engine.store.root_uri.startswith("s3://"):
            raise ConfigurationError(
                f"batch transform reads its input from S3, but the storage is {engine.store.root_uri!r}: set DEEPAR_STORAGE=s3://bucket/prefix"
            )
        self.engine = engine
        self.model_name = (model.card.get("sagemaker") or {}).get("model_name") or model.model_id
        self.dataset = dataset
        self.num_samples = int((model.card.get("training_settings") or {}).get("num_eval_samples", 100))
        self.log = log

    def predict(self, records: list[dict[str, Any]], cut: int = 0) -> dict[str, Any]:
        h = self.dataset.prediction_length
        body = transform_input(records, h, cut)
        digest = hashlib.sha256(body).hexdigest()[:16]
        base = f"{TRANSFORM_PREFIX}/{self.model_name}/{digest}"
        store = self.engine.store
        store.put_bytes(f"{base}/input/{TRANSFORM_INPUT}", body)
        name, _ = self.engine.transform(
            self.model_name, store.uri(f"{base}/input/{TRANSFORM_INPUT}"), store.uri(f"{base}/output"), digest, self.num_samples, self.log
        )
        key = f"{base}/output/{name}/{TRANSFORM_INPUT}.out"
        return parse_transform_output(store.get_bytes(key), len(records), h, source=store.uri(key))
