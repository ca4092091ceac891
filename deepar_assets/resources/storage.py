"""The object store datasets and models go to: a local folder, or S3 through dagster-aws."""

from __future__ import annotations

import math
import os

import dagster as dg
from pydantic import Field

from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.paths import deepar_home
from deepar_assets.storage.base import ObjectStore, s3_location
from deepar_assets.storage.local import FolderStore

STORAGE_VARIABLE = "DEEPAR_STORAGE"
CONNECT_TIMEOUT_VARIABLE = "DEEPAR_S3_CONNECT_TIMEOUT"
READ_TIMEOUT_VARIABLE = "DEEPAR_S3_READ_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds to open a connection to the endpoint
DEFAULT_READ_TIMEOUT = 30.0  # seconds to wait for each answer (or each part of a body)


class StorageResource(dg.ConfigurableResource):
    """Datasets and models: a local folder (the default) or s3://bucket/prefix.

    On S3 the client is built as dagster-aws's ``S3Resource`` builds it, with timeouts added
    (:func:`s3_client`): region, profile, credentials and endpoint follow the usual AWS environment (``AWS_REGION``, ``AWS_PROFILE``,
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``,
    instance roles) unless set here, preferably as ``dg.EnvVar``. Credentials have no field here,
    so they can never land in run config, logs or the UI."""

    location: str | None = Field(
        default=None,
        description="A folder or s3://bucket/prefix. Unset: $DEEPAR_STORAGE, else <deepar home>/storage "
        "(<deepar home> is $DAGSTER_HOME/deepar, or ./.deepar without a Dagster home).",
    )
    endpoint_url: str | None = Field(
        default=None,
        description="S3 only: an S3-compatible endpoint (MinIO, Ceph, a local test server). "
        "Unset: $AWS_ENDPOINT_URL_S3 or $AWS_ENDPOINT_URL, else AWS's own endpoint for the region.",
    )
    region_name: str | None = Field(
        default=None,
        description="S3 only: the bucket's region. Unset: $AWS_REGION / $AWS_DEFAULT_REGION / the profile's.",
    )
    profile_name: str | None = Field(
        default=None,
        description="S3 only: the AWS profile whose credentials are used. Unset: $AWS_PROFILE, else the default chain.",
    )
    max_attempts: int = Field(
        default=5,
        description="S3 only: attempts per request (the first included) before a run fails; throttling, 5xx answers "
        "and dropped connections are retried with exponential backoff (botocore's standard retry mode).",
    )
    sse: str | None = Field(
        default=None,
        description="S3 only: server-side encryption of every object written: AES256 (S3-managed keys) or aws:kms. "
        "Unset: the bucket's default encryption.",
    )
    sse_kms_key_id: str | None = Field(
        default=None,
        description="S3 only, with sse=aws:kms: the KMS key id, ARN or alias. Unset: the AWS-managed aws/s3 key.",
    )
    multipart_threshold_mib: int = Field(
        default=8, description="S3 only: objects larger than this (MiB) are uploaded in parts, in parallel."
    )
    multipart_chunk_mib: int = Field(
        default=8, description="S3 only: size of each uploaded part in MiB (S3's minimum is 5)."
    )
    connect_timeout: float | None = Field(
        default=None,
        description=f"S3 only: seconds to open a connection to the endpoint, per attempt. Unset: "
        f"${CONNECT_TIMEOUT_VARIABLE}, else {DEFAULT_CONNECT_TIMEOUT:g}.",
    )
    read_timeout: float | None = Field(
        default=None,
        description=f"S3 only: seconds to wait for an answer (or the next bytes of one), per attempt. Unset: "
        f"${READ_TIMEOUT_VARIABLE}, else {DEFAULT_READ_TIMEOUT:g}.",
    )

    def resolved_location(self) -> str:
        return self.location or os.environ.get(STORAGE_VARIABLE) or str(deepar_home() / "storage")

    def setting(self) -> str:
        """What the location comes from, for messages."""
        if self.location:
            return "resources.storage.config.location"
        return STORAGE_VARIABLE if os.environ.get(STORAGE_VARIABLE) else "the default storage folder"

    def store(self) -> ObjectStore:
        location = self.resolved_location()
        bucket_prefix = s3_location(location, self.setting())
        if bucket_prefix is not None:
            return self._s3_store(location, *bucket_prefix)
        try:
            return FolderStore(location)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{self.setting()}={location!r}: {exc}") from None

    def _s3_store(self, location: str, bucket: str, prefix: str) -> ObjectStore:
        from botocore.exceptions import BotoCoreError

        from deepar_assets.storage.s3 import MiB, S3Store

        try:
            client = s3_client(
                self.max_attempts,
                self.region_name,
                self.endpoint_url,
                self.profile_name,
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            )
        except BotoCoreError as exc:  # e.g. a profile that does not exist; the message holds no secret
            raise ConfigurationError(f"storage {location}: cannot set up the S3 client: {exc}") from exc
        return S3Store(
            client,
            bucket,
            prefix,
            sse=self.sse,
            sse_kms_key_id=self.sse_kms_key_id,
            multipart_threshold=self.multipart_threshold_mib * MiB,
            multipart_chunksize=self.multipart_chunk_mib * MiB,
        )


def s3_timeouts(connect_timeout: float | None = None, read_timeout: float | None = None) -> tuple[float, float]:
    """The connect and read timeouts (seconds) of an S3 client: those given, else
    $DEEPAR_S3_CONNECT_TIMEOUT and $DEEPAR_S3_READ_TIMEOUT, else 10 and 30 s."""
    return (
        _seconds(connect_timeout, "connect_timeout", CONNECT_TIMEOUT_VARIABLE, DEFAULT_CONNECT_TIMEOUT),
        _seconds(read_timeout, "read_timeout", READ_TIMEOUT_VARIABLE, DEFAULT_READ_TIMEOUT),
    )


def _seconds(value: float | None, name: str, variable: str, default: float) -> float:
    where = f"{name}={value!r}"
    if value is None:
        text = os.environ.get(variable, "").strip()
        if not text:
            return default
        where = f"{variable}={text!r}"
        try:
            value = float(text)
        except ValueError:
            raise ConfigurationError(f"{where}: expected a number of seconds, e.g. 10") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{where}: expected a positive, finite number of seconds")
    return float(value)


def s3_client(
    max_attempts: int = 5,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    profile_name: str | None = None,
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
):
    """A boto3 S3 client retrying in botocore's standard mode, with connect and read timeouts.

    Built as dagster-aws's ``S3Resource`` builds its client (a boto3 session for the profile,
    then its S3 client), which has no timeout settings: botocore's own default is 60 s, read
    timeouts retried ``max_attempts`` times, so an endpoint that accepts connections and never
    answers held a run for minutes. ``max_attempts`` counts every attempt, the first included
    (botocore's ``total_max_attempts``). Timeouts: :func:`s3_timeouts`. Anything else left unset
    (region, endpoint, profile, credentials) comes from the usual AWS environment."""
    import boto3
    from botocore.config import Config

    if max_attempts < 1:
        raise ConfigurationError(f"storage max_attempts must be at least 1, got {max_attempts}")
    connect, read = s3_timeouts(connect_timeout, read_timeout)
    config = Config(
        retries={"total_max_attempts": max_attempts, "mode": "standard"}, connect_timeout=connect, read_timeout=read
    )
    session = boto3.session.Session(profile_name=profile_name)
    return session.client("s3", region_name=region_name, endpoint_url=endpoint_url, config=config)
