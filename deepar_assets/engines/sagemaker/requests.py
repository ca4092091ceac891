"""SageMaker DeepAR's requests as pure functions, and what every job shares: the settings, the
image, the names, the cost bound, the static hyperparameters (all from the dataset version).

Every tuning and registry request is built here from plain data (the batch transform request
in :mod:`.transform`) and sent as it is with boto3's ``sagemaker`` client, so what goes to AWS
is what tests read back from an HTTP endpoint. The sagemaker SDK is used for one thing it knows
better than this project: the DeepAR image URI of each region (:func:`deepar_image_uri`, from
``sagemaker-core``, the core package of SDK v3). The SDK's ``HyperparameterTuner`` is not used:
the request it would send is stated here in full, where tests can read it back, and the full
SDK (sagemaker 3.x, with sagemaker-train) would add mlflow and move pyarrow in the install.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from deepar_assets.constants import QUANTILES, TEST, TRAIN
from deepar_assets.domain.hyperparameters import (
    OBJECTIVES,
    ContinuousRange,
    SearchSpace,
    split_fixed,
    to_sagemaker_ranges,
    to_strings,
    validate_space,
)
from deepar_assets.domain.spec import periods
from deepar_assets.engines.base import DatasetRef, TuningSettings
from deepar_assets.errors import ConfigurationError

DEEPAR_ALGORITHM = "forecasting-deepar"
NAME_PREFIX = "deepar-"
TUNING_OUTPUT = "models/sagemaker-training"  # under the storage root: <training job>/output/model.tar.gz
MAX_TUNING_NAME = 32  # SageMaker's limit for tuning job names
MAX_MODEL_NAME = 63
MAX_LAUNCH_ATTEMPTS = 9  # <name>, <name>-2 … <name>-9: new jobs after failed or stopped ones
UNSEEN_POLLS = 5  # polls a just-created job may take to become visible to Describe
NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")  # whole names: fullmatch
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+")  # fullmatch

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
    role_arn_in_card: bool = False  # record the execution role's ARN in model.json (off: it stays out)

    def __post_init__(self) -> None:
        if not _ROLE_ARN.fullmatch(self.role_arn or ""):
            raise ConfigurationError(
                f"SageMaker execution role: {_role_problem(self.role_arn or '')}; expected an IAM role ARN like "
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
        if self.model_package_group:
            check_name(self.model_package_group, "model package group", MAX_MODEL_NAME)
        if self.warm_start not in ("none", "previous"):
            check_name(self.warm_start, "warm start tuning job", MAX_TUNING_NAME)

    def price_per_hour(self) -> float | None:
        return {**DEFAULT_PRICES, **self.prices}.get(self.instance_type)


def _role_problem(value: str) -> str:
    """What is wrong with a role ARN, without echoing it (a misplaced value may be a secret):
    its length and, where it starts like an ARN, the part that is safe to show."""
    if not value:
        return "the value is empty"
    if value != value.strip() or any(c.isspace() for c in value):
        return f"the value ({len(value)} characters) contains white space"
    if not value.startswith("arn:"):
        return f"the value ({len(value)} characters) does not start with arn:"
    parts = value.split(":", 5)
    if len(parts) < 6 or not parts[1].startswith("aws") or parts[2] != "iam":
        return f"the value ({len(value)} characters) is not an IAM ARN (arn:aws:iam::<account>:role/<name>)"
    if not re.fullmatch(r"\d{12}", parts[4]):
        return f"the value ({len(value)} characters) has no 12-digit account id after arn:<partition>:iam::"
    return f"the value ({len(value)} characters) is an IAM ARN but not a role's (…:role/<name>)"


def check_name(name: str, what: str, limit: int) -> str:
    """``name``, if SageMaker accepts it as a ``what`` name: at most ``limit`` characters,
    letters, digits and hyphens, starting and ending with a letter or digit. A real error,
    not an ``assert`` (which ``python -O`` removes)."""
    if len(name) > limit or not NAME_PATTERN.fullmatch(name):
        raise ConfigurationError(
            f"SageMaker {what} name {name!r} ({len(name)} characters): expected at most {limit} characters of "
            f"letters, digits and hyphens, starting and ending with a letter or digit ({NAME_PATTERN.pattern})"
        )
    return name


# -- the image, the names and the cost ----------------------------------------------------
def deepar_image_uri(region: str) -> str:
    """The built-in DeepAR image of a region, as the sagemaker SDK knows it (offline)."""
    from sagemaker.core import image_uris  # 2-3 s to import; only the SageMaker backend needs it

    try:
        return image_uris.retrieve(DEEPAR_ALGORITHM, region)
    except ValueError as exc:
        raise ConfigurationError(f"no SageMaker DeepAR image for region {region!r}: {exc}") from None


def deepar_time_freq(freq: str) -> str:
    """DeepAR's ``time_freq`` from the dataset's pandas alias: a week ending on any day → W,
    month starts or ends → M, D → D, h → H (the anchor day comes from the records' ``start``).
    Anything else is refused: DeepAR's time_freq takes M, W, D, H and min only."""
    try:
        return periods.frequency(freq).sagemaker
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"frequency {freq!r}: SageMaker DeepAR's time_freq takes M, W, D, H or min (months, weeks, days, hours, "
            f"minutes), and this platform makes datasets of M, W, D and h; no SageMaker job was launched ({exc})"
        ) from None


def require_s3(dataset: DatasetRef) -> None:
    if not dataset.storage_uri.startswith("s3://"):
        raise ConfigurationError(
            f"dataset {dataset.version} is in {dataset.storage_uri!r}, but SageMaker reads its channels from S3: "
            "set DEEPAR_STORAGE=s3://bucket/prefix (and rematerialize s3_datasets) to train with DEEPAR_BACKEND=sagemaker"
        )


def digest_of(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def tuning_job_name(data_version: str, request: dict[str, Any], attempt: int = 1) -> str:
    """``deepar-<data version>-<hash of the request>[-<attempt>]``: the same data and settings
    give the same name (so a rerun attaches to the job instead of paying twice); at most 32
    characters, as SageMaker requires."""
    name = f"{NAME_PREFIX}{data_version[:8]}-{digest_of(request)[:8]}" + (f"-{attempt}" if attempt > 1 else "")
    return check_name(name, "tuning job", MAX_TUNING_NAME)


def model_name_for(data_version: str, tuning_job: str, training_job: str) -> str:
    name = f"{NAME_PREFIX}{data_version[:8]}-{digest_of([tuning_job, training_job])[:8]}"
    return check_name(name, "model", MAX_MODEL_NAME)


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
    """What DeepAR needs besides the searched ranges, as the strings SageMaker passes; all of
    it from the dataset version (its encoding): ``time_freq`` from its frequency,
    ``cardinality`` per ``cat`` position, ``num_dynamic_feat`` its feature count. DeepAR takes
    a positive integer there, or ``ignore`` to use no dynamic features, which is what a dataset
    without any gets (its records carry no ``dynamic_feat``)."""
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
    deepar_time_freq(dataset.freq)  # a frequency DeepAR cannot take is the dataset's problem: said first
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


def channel_uris(job: dict[str, Any]) -> dict[str, str]:
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


def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("deepar-assets", "sagemaker-core", "boto3", "botocore", "dagster"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def error_text(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', '?')}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


def is_missing(
    exc: BaseException, codes: tuple[str, ...] = ("ResourceNotFound",), phrases: tuple[str, ...] = ()
) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    error = response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    return code in codes or (code == "ValidationException" and any(p in message for p in phrases))
