"""The object store datasets and models go to: a local folder, or S3 through dagster-aws."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.paths import deepar_home
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.local import FolderStore


class StorageResource(dg.ConfigurableResource):
    """Datasets and models: a local folder (the default) or s3://bucket/prefix.

    On S3 the client comes from dagster-aws's ``S3Resource``: region, profile, credentials and
    endpoint follow the usual AWS environment (``AWS_REGION``, ``AWS_PROFILE``,
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

    def resolved_location(self) -> str:
        return self.location or os.environ.get("DEEPAR_STORAGE") or str(deepar_home() / "storage")

    def store(self) -> ObjectStore:
        location = self.resolved_location()
        if location.startswith("s3://"):
            return self._s3_store(location)
        if "://" in location:
            raise ConfigurationError(f"storage {location!r}: expected a folder or s3://bucket/prefix")
        return FolderStore(location)

    def _s3_store(self, location: str) -> ObjectStore:
        from botocore.exceptions import BotoCoreError

        from deepar_assets.storage.s3 import MiB, S3Store, parse_s3_uri

        bucket, prefix = parse_s3_uri(location)
        try:
            client = s3_client(self.max_attempts, self.region_name, self.endpoint_url, self.profile_name)
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


def s3_client(
    max_attempts: int = 5,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    profile_name: str | None = None,
):
    """A boto3 S3 client from dagster-aws's ``S3Resource``, retrying in botocore's standard mode.

    ``max_attempts`` counts every attempt, the first included. dagster-aws hands its own
    ``max_attempts`` to botocore as ``retries.max_attempts``, which botocore counts as retries
    after the first attempt, so one less is passed on. Anything left unset (region, endpoint,
    profile, credentials) comes from the usual AWS environment."""
    from dagster_aws.s3 import S3Resource

    if max_attempts < 1:
        raise ConfigurationError(f"storage max_attempts must be at least 1, got {max_attempts}")
    resource = S3Resource(
        region_name=region_name, endpoint_url=endpoint_url, profile_name=profile_name, max_attempts=max_attempts - 1
    )
    return resource.get_client()
