"""Object storage on S3 or any S3-compatible endpoint, through a boto3 S3 client.

The client is built by the caller (the storage resource builds it with dagster-aws's
``S3Resource``), so region, profile, credentials and endpoint come from the usual AWS
environment, and retries of throttling, 5xx answers and dropped connections (botocore's
``standard`` mode, exponential backoff) are configured on it. What is left to this class:

- keys under ``s3://bucket/prefix/``;
- uploads in one PUT, or above a threshold through boto3's managed transfer in parts (an
  object becomes visible only when its PUT or CompleteMultipartUpload succeeds, so readers
  never see a part; a failed multipart upload is aborted);
- downloads whose body is cut off mid-stream read again (the client's retries end when the
  response headers arrive);
- each object's sha256 kept as its user metadata (``x-amz-meta-sha256``), so publishing can
  skip objects already there;
- optional server-side encryption (``AES256`` or ``aws:kms`` with a key id);
- botocore's errors turned into the project's, naming ``s3://bucket/key``, the operation, the
  endpoint and what to do. Credentials never appear in a message.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)
from s3transfer.exceptions import RetriesExceededError

from deepar_assets.errors import (
    AccessDeniedError,
    BucketNotFoundError,
    ConfigurationError,
    EndpointUnreachableError,
    ObjectNotFoundError,
    StorageError,
)
from deepar_assets.storage.base import (
    STALE_SECONDS,
    ObjectChangedError,
    ObjectInfo,
    ObjectStore,
    check_key,
    s3_location,
)

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3's smallest part (except the last one)
SSE_MODES = ("AES256", "aws:kms")
SHA256_METADATA = "sha256"

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_NO_BUCKET = {"NoSuchBucket"}
_DENIED = {
    "403",
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AccountProblem",
}
_CONDITION_LOST = {"PreconditionFailed", "ConditionalRequestConflict"}
_UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError, SSLError)
_NO_CREDENTIALS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)
_BODY_ERRORS = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError)


def parse_s3_uri(uri: str, setting: str = "storage") -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → (``bucket``, ``some/prefix``); anything else raises
    ConfigurationError naming ``setting`` (the variable or field the value came from)."""
    parsed = s3_location(uri, setting)
    if parsed is None:
        raise ConfigurationError(f"{setting}={uri!r}: expected s3://bucket/prefix")
    return parsed


def total_attempts(retries: dict[str, Any] | None) -> int:
    """Attempts per request (the first included) of a client's retry settings (botocore's
    ``total_max_attempts``, or ``max_attempts`` retries after the first; standard mode: 3)."""
    retries = retries or {}
    if retries.get("total_max_attempts"):
        return max(1, int(retries["total_max_attempts"]))
    if retries.get("max_attempts") is not None:
        return max(1, int(retries["max_attempts"]) + 1)
    return 3


class S3Store(ObjectStore):
    """Objects under ``s3://bucket/prefix/`` through a boto3 S3 client."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        sse: str | None = None,
        sse_kms_key_id: str | None = None,
        multipart_threshold: int = 8 * MiB,
        multipart_chunksize: int = 8 * MiB,
        max_concurrency: int = 4,
        page_size: int = 1000,
    ):
        if not bucket:
            raise ConfigurationError("S3 storage needs a bucket name")
        if sse is not None and sse not in SSE_MODES:
            raise ConfigurationError(
                f"server-side encryption {sse!r}: expected one of {', '.join(SSE_MODES)} (or none)"
            )
        if sse_kms_key_id and sse != "aws:kms":
            raise ConfigurationError(
                "sse_kms_key_id is set, but server-side encryption is not 'aws:kms'; set sse to aws:kms"
            )
        if multipart_chunksize < MIN_PART_SIZE:
            raise ConfigurationError(
                f"multipart part size {multipart_chunksize} bytes is below S3's minimum of {MIN_PART_SIZE} bytes (5 MiB)"
            )
        if multipart_threshold < 1:
            raise ConfigurationError(f"multipart threshold must be positive, got {multipart_threshold}")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.sse = sse
        self.sse_kms_key_id = sse_kms_key_id
        self.page_size = page_size
        self._bucket_seen = False  # the bucket answered once: a later 404 is a missing key
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
        )

    # -- naming -----------------------------------------------------------------------
    @property
    def root_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def endpoint_url(self) -> str:
        return self.client.meta.endpoint_url

    def describe(self) -> dict[str, str]:
        """Where the store is, safe to log: bucket, prefix, endpoint and encryption only."""
        described = {"storage": self.root_uri, "endpoint": self.endpoint_url}
        if self.sse:
            described["sse"] = self.sse
        return described

    def _key(self, key: str) -> str:
        check_key(key, self.root_uri)
        return f"{self.prefix}/{key}" if self.prefix else key

    # -- objects ----------------------------------------------------------------------
    def _extra_args(self, sha256: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"Metadata": {SHA256_METADATA: sha256}}
        if self.sse:
            extra["ServerSideEncryption"] = self.sse
        if self.sse_kms_key_id:
            extra["SSEKMSKeyId"] = self.sse_kms_key_id
        return extra

    def put_file(self, key: str, path: Path, sha256: str | None = None) -> None:
        """Stream a local file up: one PUT below the multipart threshold, else parts."""
        full = self._key(key)
        if sha256 is None:
            with open(path, "rb") as handle:
                sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        extra = self._extra_args(sha256)
        with self._errors("upload", key):
            self.client.upload_file(str(path), self.bucket, full, ExtraArgs=extra, Config=self.transfer)

    def put_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)
        extra = self._extra_args(hashlib.sha256(data).hexdigest())
        with self._errors("upload", key):
            if len(data) < self.transfer.multipart_threshold:
                self.client.put_object(Bucket=self.bucket, Key=full, Body=data, **extra)
            else:  # boto3's managed transfer: parts in parallel, aborted on failure
                self.client.upload_fileobj(io.BytesIO(data), self.bucket, full, ExtraArgs=extra, Config=self.transfer)

    def get_bytes(self, key: str) -> bytes:
        full = self._key(key)
        # The client retries a request until its response headers arrive; a body cut off
        # after that is read again here (as boto3's managed download does).
        return self._download(key, {"Bucket": self.bucket, "Key": full})[0]

    def _download(self, key: str, request: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
        """One GetObject's body and response; a body cut off is read again."""
        attempts = total_attempts(self.client.meta.config.retries)
        for attempt in range(1, attempts + 1):
            with self._errors("download", key):
                response = self.client.get_object(**request)
                try:
                    return response["Body"].read(), response
                except _BODY_ERRORS:
                    if attempt == attempts:
                        raise
        raise AssertionError("unreachable")  # the loop returns or raises

    def get_version(self, key: str, expect: ObjectInfo) -> bytes:
        """GetObject with ``If-Match: <ETag>``: S3 answers 412 when the object is another
        version now (without an ETag to match, only the size is compared)."""
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if expect.etag:
            request["IfMatch"] = f'"{expect.etag}"'
        wanted = f"{expect.size} bytes, ETag {expect.etag or '?'}"
        try:
            data, response = self._download(key, request)
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and (_code(cause) in _CONDITION_LOST or _status(cause) == 412):
                raise ObjectChangedError(
                    f"{self.uri(key)} changed since it was listed: it is no longer the version of {wanted}"
                ) from exc
            raise
        if len(data) != expect.size:
            etag = str(response.get("ETag", "?")).strip('"')
            raise ObjectChangedError(
                f"{self.uri(key)} changed since it was listed: expected {wanted}, found {len(data)} bytes, ETag {etag}"
            )
        return data

    def _head(self, key: str) -> dict[str, Any] | None:
        full = self._key(key)
        try:
            with self._errors("head", key):
                return self.client.head_object(Bucket=self.bucket, Key=full)
        except ObjectNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """One PUT with ``If-None-Match: *`` (S3's conditional write): S3 refuses it with 412
        PreconditionFailed when the key exists, or 409 ConditionalRequestConflict while another
        conditional write of the key is in flight; both mean another writer got there first."""
        full = self._key(key)
        extra = self._extra_args(hashlib.sha256(data).hexdigest())
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data, IfNoneMatch="*", **extra)
        except ClientError as exc:
            if _code(exc) in _CONDITION_LOST:
                return False
            raise self._translate(exc, "upload", key) from exc
        except (BotoCoreError, RetriesExceededError) as exc:
            raise self._translate(exc, "upload", key) from exc
        return True

    def delete(self, key: str) -> None:
        full = self._key(key)
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=full)

    def sha256(self, key: str) -> str | None:
        head = self._head(key)
        return None if head is None else head.get("Metadata", {}).get(SHA256_METADATA)

    def list_keys(self, prefix: str = "") -> list[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        with self._errors("list", prefix or ""):
            pages = paginator.paginate(
                Bucket=self.bucket, Prefix=root + prefix, PaginationConfig={"PageSize": self.page_size}
            )
            for page in pages:
                keys.extend(item["Key"][len(root) :] for item in page.get("Contents", []))
        return sorted(keys)

    def list_info(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object under the prefix, paging through list_objects_v2 to the last key: no
        ``StartAfter``, so nothing is skipped whatever its key sorts before."""
        root = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        infos: list[ObjectInfo] = []
        with self._errors("list", prefix or ""):
            pages = paginator.paginate(
                Bucket=self.bucket, Prefix=root + prefix, PaginationConfig={"PageSize": self.page_size}
            )
            for page in pages:
                infos.extend(
                    ObjectInfo(
                        key=item["Key"][len(root) :],
                        size=int(item["Size"]),
                        modified=item["LastModified"].timestamp(),
                        etag=str(item.get("ETag", "")).strip('"') or None,
                    )
                    for item in page.get("Contents", [])
                )
        return sorted(infos, key=lambda info: info.key)

    # -- errors -----------------------------------------------------------------------
    @contextmanager
    def _errors(self, operation: str, key: str) -> Iterator[None]:
        try:
            yield
        except (BotoCoreError, ClientError, RetriesExceededError) as exc:
            raise self._translate(exc, operation, key) from exc

    def _bucket_missing(self) -> bool:
        """Tell a missing bucket from a missing key after a bare 404 (HEAD answers have no body)."""
        if self._bucket_seen:
            return False
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            return _code(exc) in _NOT_FOUND | _NO_BUCKET
        except (BotoCoreError, RetriesExceededError):
            return False
        self._bucket_seen = True
        return False

    def _translate(self, exc: Exception, operation: str, key: str) -> StorageError:
        where = self.uri(key) if key else f"{self.root_uri}/"
        endpoint = self.endpoint_url
        if isinstance(exc, ClientError):
            code = _code(exc)
            meta = exc.response.get("ResponseMetadata", {})
            status = meta.get("HTTPStatusCode", "?")
            attempts = int(meta.get("RetryAttempts", 0)) + 1
            message = exc.response.get("Error", {}).get("Message") or ""
            if code in _NO_BUCKET or (code in _NOT_FOUND and self._bucket_missing()):
                return BucketNotFoundError(
                    f"{operation} {where}: the bucket {self.bucket!r} does not exist at {endpoint}; "
                    "create it, or point DEEPAR_STORAGE at an existing bucket"
                )
            if code in _NOT_FOUND:
                return ObjectNotFoundError(f"{where} does not exist (endpoint {endpoint})")
            if code in _DENIED or status == 403:
                return AccessDeniedError(
                    f"{operation} {where}: access denied by {endpoint} ({code}{': ' + message if message else ''}); "
                    "check the credentials in use (AWS_PROFILE, AWS_ACCESS_KEY_ID, the instance role) and that their "
                    f"policy allows s3:GetObject, s3:PutObject and s3:ListBucket on bucket {self.bucket!r}"
                    + (" and the KMS key" if self.sse == "aws:kms" else "")
                )
            return StorageError(
                f"{operation} {where} failed after {attempts} attempt(s): HTTP {status} {code}"
                f"{': ' + message if message else ''} (endpoint {endpoint}); if the service is throttling or "
                "failing, retry later or raise max_attempts"
            )
        if isinstance(exc, _NO_CREDENTIALS):
            return AccessDeniedError(
                f"{operation} {where}: no usable AWS credentials ({type(exc).__name__}); set AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an instance or task role"
            )
        if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
            return self._timed_out(exc, operation, where)
        if isinstance(exc, _UNREACHABLE):
            return EndpointUnreachableError(
                f"{operation} {where}: cannot reach the S3 endpoint {endpoint} ({type(exc).__name__}); "
                "check AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 (or the storage resource's endpoint_url), the "
                "region and the network"
            )
        if isinstance(exc, HTTPClientError | IncompleteReadError):  # the connection broke off, on every attempt
            return StorageError(
                f"{operation} {where} failed: the connection to {endpoint} broke off and the retries did not help "
                f"({type(exc).__name__}); retry later or raise max_attempts"
            )
        if isinstance(exc, RetriesExceededError):
            cause = exc.last_exception
            return StorageError(
                f"{operation} {where} failed: the connection to {endpoint} kept breaking off mid-transfer "
                f"({type(cause).__name__}: {cause}); retry later"
            )
        return StorageError(f"{operation} {where} failed (endpoint {endpoint}): {type(exc).__name__}: {exc}")

    def _timed_out(self, exc: Exception, operation: str, where: str) -> StorageError:
        """An endpoint that did not accept the connection, or did not answer, in time, on every attempt."""
        config = self.client.meta.config
        attempts = total_attempts(config.retries)
        if isinstance(exc, ConnectTimeoutError):
            return EndpointUnreachableError(
                f"{operation} {where}: connecting to the S3 endpoint {self.endpoint_url} timed out after "
                f"{config.connect_timeout:g} s × {attempts} attempts; check AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 "
                "(or the resource's endpoint_url) and the network, or raise the connect timeout "
                "(DEEPAR_S3_CONNECT_TIMEOUT)"
            )
        return StorageError(
            f"{operation} {where}: the S3 endpoint {self.endpoint_url} accepted the connection but did not answer: "
            f"timed out after {config.read_timeout:g} s × {attempts} attempts; check that the endpoint is an S3 "
            "service that is up, or raise the read timeout (DEEPAR_S3_READ_TIMEOUT)"
        )

    # -- leftovers ----------------------------------------------------------------------
    def clean_abandoned(self, now: float | None = None, older_than: float = STALE_SECONDS) -> list[str]:
        """Abort the multipart uploads under the store's prefix initiated more than
        ``older_than`` seconds before ``now`` (a run killed mid-upload leaves its parts, billed
        and invisible, until they are aborted); younger ones may belong to a run still uploading."""
        now = time.time() if now is None else now
        root = f"{self.prefix}/" if self.prefix else ""
        aborted = []
        with self._errors("list multipart uploads", ""):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=root)
            stale = [
                upload
                for page in pages
                for upload in page.get("Uploads", [])
                if now - upload["Initiated"].timestamp() >= older_than
            ]
        for upload in stale:
            key = upload["Key"][len(root) :]
            with self._errors("abort the multipart upload of", key):
                try:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                except ClientError as exc:
                    if _code(exc) != "NoSuchUpload":  # finished or aborted meanwhile
                        raise
                    continue
            aborted.append(f"{self.uri(key)} (multipart upload {upload['UploadId']})")
        return aborted


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
