"""Which engine trains: the local one (default) or SageMaker."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import dagster as dg
from pydantic import Field

from deepar_assets.engines.base import TrainingEngine
from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.paths import deepar_home
from deepar_assets.storage.base import ObjectStore

if TYPE_CHECKING:
    from deepar_assets.engines.sagemaker import SageMakerSettings


class Backend(StrEnum):
    local = "local"
    sagemaker = "sagemaker"


BACKENDS = tuple(b.value for b in Backend)


class TrainingResource(dg.ConfigurableResource):
    """The training backend behind ``tuning_run`` and ``best_model``.

    With ``sagemaker``, the engine is built when a run uses it: the role from ``role_arn`` or
    ``$SAGEMAKER_ROLE_ARN``, and a boto3 client from the usual AWS environment (region,
    profile, credentials, ``AWS_ENDPOINT_URL(_SAGEMAKER)``). Credentials have no field here."""

    backend: Backend | None = Field(
        default=None,
        description="local (GluonTS + Optuna on this machine) or sagemaker. Unset: $DEEPAR_BACKEND, else local.",
    )
    study_db: str | None = Field(
        default=None,
        description="SQLite file where the local engine stores its Optuna studies, so that an interrupted "
        "tuning_run resumes; default <deepar home>/optuna/studies.db.",
    )
    work_dir: str | None = Field(
        default=None,
        description="Scratch space for training (checkpoints, temporary model files); default <deepar home>/work.",
    )
    # SageMaker only. Region, profile, credentials and endpoint follow the usual AWS environment
    # (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL(_SAGEMAKER), instance roles) unless set here.
    role_arn: str | None = Field(
        default=None,
        description="SageMaker only: the execution role the training jobs assume (deploy/iam/). Unset: $SAGEMAKER_ROLE_ARN.",
    )
    role_arn_in_model_card: bool = Field(
        default=False,
        description="SageMaker only: record the execution role's ARN in each model.json (off: it stays out of the card).",
    )
    region_name: str | None = Field(
        default=None,
        description="SageMaker only: the AWS region. Unset: $AWS_REGION / $AWS_DEFAULT_REGION / the profile's.",
    )
    profile_name: str | None = Field(
        default=None,
        description="SageMaker only: the AWS profile whose credentials are used. Unset: $AWS_PROFILE, else the default chain.",
    )
    instance_type: str = Field(
        default="ml.c5.2xlarge",
        description="SageMaker only: the instance type of each training job (DeepAR runs on CPU or GPU).",
    )
    instance_count: int = Field(default=1, description="SageMaker only: instances per training job.")
    volume_size_gb: int = Field(
        default=30, description="SageMaker only: storage attached to each training instance (GB)."
    )
    max_parallel_jobs: int = Field(
        default=3,
        description="SageMaker only: training jobs of the tuning job running at once (max_trials is the total).",
    )
    max_runtime_hours: float = Field(
        default=1.0,
        description="SageMaker only: a training job running longer is stopped; also the hours the cost guard assumes per job.",
    )
    early_stopping: Literal["Off", "Auto"] = Field(
        default="Off",
        description="SageMaker only: Auto lets SageMaker stop training jobs that are unlikely to beat the best.",
    )
    poll_seconds: float = Field(
        default=60.0, description="SageMaker only: seconds between looks at the tuning job's progress."
    )
    warm_start: str = Field(
        default="none",
        description="SageMaker only: none; previous (the newest completed tuning job of this platform on another data version, "
        "when compatible: transfer learning); or the name of a finished tuning job.",
    )
    max_cost_usd: float | None = Field(
        default=50.0,
        description="SageMaker only: refuse to launch a tuning job that can cost more than this (USD: max_trials × "
        "instance_count × max_runtime_hours × the instance's hourly price). Null: no ceiling.",
    )
    instance_prices: dict[str, float] = Field(
        default={},
        description="SageMaker only: USD per instance-hour by instance type, over the built-in us-east-1 list prices "
        "(set them for your region, discounts or types the table lacks).",
    )
    model_package_group: str | None = Field(
        default=None,
        description="SageMaker only: also register each best model as a model package (pending manual approval) in "
        "this group, created if missing. Unset: no model package.",
    )
    image_uri: str | None = Field(
        default=None,
        description="SageMaker only: the DeepAR image. Unset: the region's forecasting-deepar image (sagemaker SDK).",
    )
    max_attempts: int = Field(
        default=10,
        description="SageMaker only: attempts per API request (the first included); throttling and 5xx answers are retried "
        "with exponential backoff (botocore's standard retry mode).",
    )

    def resolved_backend(self) -> str:
        backend = (self.backend.value if self.backend else None) or os.environ.get("DEEPAR_BACKEND") or "local"
        if backend not in BACKENDS:
            raise ConfigurationError(f"DEEPAR_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}")
        return backend

    def engine(self, store: ObjectStore) -> TrainingEngine:
        backend = self.resolved_backend()
        if backend == "sagemaker":
            return self.sagemaker_engine(store)
        from deepar_assets.engines.local import LocalEngine

        work = Path(self.work_dir) if self.work_dir else deepar_home() / "work"
        study_db = Path(self.study_db) if self.study_db else deepar_home() / "optuna" / "studies.db"
        return LocalEngine(store, work, study_db=study_db)

    def sagemaker_settings(self) -> SageMakerSettings:
        from deepar_assets.engines.sagemaker import SageMakerSettings

        role = self.role_arn or os.environ.get("SAGEMAKER_ROLE_ARN")
        if not role:
            raise ConfigurationError(
                "DEEPAR_BACKEND=sagemaker needs the execution role SageMaker's training jobs assume: set "
                "SAGEMAKER_ROLE_ARN=arn:aws:iam::<account>:role/<name> (deploy/iam/ has its policies; README: Running on AWS)"
            )
        if self.max_runtime_hours <= 0:
            raise ConfigurationError(f"max_runtime_hours must be above 0, got {self.max_runtime_hours}")
        return SageMakerSettings(
            role_arn=role,
            instance_type=self.instance_type,
            instance_count=self.instance_count,
            volume_size_gb=self.volume_size_gb,
            max_parallel_jobs=self.max_parallel_jobs,
            max_runtime_s=max(1, round(self.max_runtime_hours * 3600)),
            early_stopping=self.early_stopping,
            poll_interval_s=self.poll_seconds,
            warm_start=self.warm_start,
            max_cost_usd=self.max_cost_usd,
            prices=dict(self.instance_prices),
            model_package_group=self.model_package_group,
            image_uri=self.image_uri,
            role_arn_in_card=self.role_arn_in_model_card,
        )

    def sagemaker_client(self):
        """boto3's sagemaker client from the usual AWS environment (endpoint included)."""
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        if self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be at least 1, got {self.max_attempts}")
        try:
            session = boto3.session.Session(profile_name=self.profile_name, region_name=self.region_name)
            if not session.region_name:
                raise ConfigurationError(
                    "DEEPAR_BACKEND=sagemaker needs an AWS region: set AWS_REGION (or region_name, or a profile with a region)"
                )
            return session.client(
                "sagemaker",
                config=Config(
                    # total_max_attempts counts the first attempt; botocore's max_attempts would count retries only.
                    retries={"mode": "standard", "total_max_attempts": self.max_attempts},
                    user_agent_extra="deepar-assets",
                ),
            )
        except BotoCoreError as exc:
            raise ConfigurationError(f"cannot build the SageMaker client: {exc}") from exc

    def sagemaker_engine(self, store: ObjectStore) -> TrainingEngine:
        from deepar_assets.engines.sagemaker import SageMakerEngine

        settings = self.sagemaker_settings()  # the role first: the clearest error when nothing is set up
        return SageMakerEngine(self.sagemaker_client(), store, settings)
