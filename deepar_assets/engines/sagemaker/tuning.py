"""The tuning job: launch (or follow) a SageMaker hyperparameter tuning job of the built-in
DeepAR, wait for it, stop it when the run is interrupted, and read its training jobs back as
trials. :class:`SageMakerEngine` is defined here; registering the best model
(:mod:`.registry`) and batch transform (:mod:`.transform`) are its other jobs.

No Dagster here: progress goes to the ``log`` callable the asset passes in; sleeping between
polls is injectable, so tests run without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deepar_assets.domain.hyperparameters import SearchSpace, from_strings
from deepar_assets.engines.base import (
    DatasetRef,
    Log,
    TrainingEngine,
    Trial,
    TrialState,
    TuningResult,
    TuningSettings,
)
from deepar_assets.engines.sagemaker.registry import RegistryJobs
from deepar_assets.engines.sagemaker.requests import (
    MAX_LAUNCH_ATTEMPTS,
    NAME_PREFIX,
    UNSEEN_POLLS,
    CostBound,
    SageMakerSettings,
    build_tuning_request,
    channel_uris,
    check_cost,
    cost_bound,
    deepar_image_uri,
    deepar_time_freq,
    error_text,
    fixed_and_searched,
    is_missing,
    require_s3,
    tuning_job_name,
    warm_start_problems,
)
from deepar_assets.engines.sagemaker.transform import TransformJobs
from deepar_assets.errors import ConfigurationError, TrainingError
from deepar_assets.storage.base import ObjectStore

WARM_START_CANDIDATES = 10  # newest finished tuning jobs looked at for warm_start="previous"
_FAILED_STATES = ("Failed", "Stopped", "Deleting", "DeleteFailed")
# A training job's status as a Trial's state; any other status (InProgress) is RUNNING.
_TRIAL_STATES: dict[str, TrialState] = {
    "Completed": "COMPLETE",
    "Failed": "FAIL",
    "Stopped": "PRUNED",
    "Stopping": "PRUNED",
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
    objective: float | None = None
    metrics: dict[str, float] = {}
    if metric and summary.get("ObjectiveStatus", "Succeeded") == "Succeeded":
        objective = float(metric["Value"])
        metrics = {metric["MetricName"]: objective}
    state = _TRIAL_STATES.get(status, "RUNNING")
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
        metrics=metrics,
        error=error,
        name=summary["TrainingJobName"],
    )


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
class SageMakerEngine(RegistryJobs, TransformJobs, TrainingEngine):
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
            raise TrainingError(f"SageMaker {operation} for {what} failed: {error_text(exc)}") from exc

    def describe_tuning_job(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise TrainingError(
                f"SageMaker DescribeHyperParameterTuningJob for {name} failed: {error_text(exc)}"
            ) from exc

    def console_url(self, name: str) -> str:
        return f"https://{self.region}.console.aws.amazon.com/sagemaker/home?region={self.region}#/hyper-tuning-jobs/{name}"

    # -- tuning -----------------------------------------------------------------------
    def launch(self, dataset: DatasetRef, space: SearchSpace, settings: TuningSettings, log: Log) -> Launch:
        """Create the tuning job, or attach to the one an earlier run created for the same
        data and settings. The cost guard refuses before anything is created (following an
        existing job costs nothing more, so it is not refused), and so is a dataset whose
        frequency DeepAR does not take."""
        deepar_time_freq(dataset.freq)  # before anything is looked up or created
        require_s3(dataset)  # before the image lookup: the likeliest misconfiguration, said first
        request = build_tuning_request(dataset, space, settings, self.settings, self.image_uri())
        bound = cost_bound(settings.max_trials, self.settings)
        fixed, _ = fixed_and_searched(dataset, space)
        parents = self.warm_start_parents(dataset, request, log)
        if parents:
            identical = all(channel_uris(p) == channel_uris(request) for p in parents)
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
            if parent and not problems:
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
                f"could not stop tuning job {name} ({error_text(exc)}); stop it in the console: {self.console_url(name)}"
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
                f"SageMaker ListTrainingJobsForHyperParameterTuningJob for {name} failed: {error_text(exc)}"
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
