"""Stores for the storage tests: a folder, and S3 on moto's server (directly or behind a
fault-injecting proxy)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest

from deepar_assets.resources.storage import s3_client as resource_s3_client
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.s3 import MiB, S3Store
from deepar_assets_tests.storage.fault_proxy import FaultProxy

BUCKET = "deepar-test"
PREFIX = "team/deepar"


def s3_client(endpoint_url: str | None = None, max_attempts: int = 3):
    """A boto3 S3 client built the way the storage resource builds it (dagster-aws's
    S3Resource); the endpoint comes from AWS_ENDPOINT_URL (the session's moto server) unless
    given."""
    if endpoint_url is None:
        return _moto_client(max_attempts)
    return resource_s3_client(max_attempts, endpoint_url=endpoint_url)


@functools.lru_cache(maxsize=4)
def _moto_client(max_attempts: int):
    """Cached: building a client takes a tenth of a second or more, and the moto server lives
    as long as the test session."""
    return resource_s3_client(max_attempts)


@pytest.fixture
def bucket(aws_env) -> str:
    """An empty bucket on the moto server (fresh moto state for every test)."""
    s3_client().create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def make_s3_store(bucket) -> Callable[..., S3Store]:
    def make(endpoint_url: str | None = None, max_attempts: int = 3, prefix: str = PREFIX, **options) -> S3Store:
        options.setdefault("multipart_threshold", 5 * MiB)
        options.setdefault("multipart_chunksize", 5 * MiB)
        return S3Store(s3_client(endpoint_url, max_attempts), bucket, prefix, **options)

    return make


@pytest.fixture
def fault_proxy(aws_env) -> Iterator[FaultProxy]:
    """An HTTP proxy in front of moto that fails or drops the requests a test asks it to."""
    with FaultProxy(aws_env) as proxy:
        yield proxy


@pytest.fixture(params=["folder", "s3"])
def any_store(request, tmp_path) -> ObjectStore:
    """Each implementation of the storage interface, for the contract tests."""
    if request.param == "folder":
        return FolderStore(tmp_path / "store")
    return request.getfixturevalue("make_s3_store")()
