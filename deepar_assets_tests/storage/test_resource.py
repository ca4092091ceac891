"""StorageResource: which store DEEPAR_STORAGE and the resource's config give, read at run time."""

from __future__ import annotations

import socket

import pytest

from deepar_assets.errors import ConfigurationError, EndpointUnreachableError, StorageError
from deepar_assets.resources.storage import StorageResource
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.s3 import MiB, S3Store
from deepar_assets_tests.storage.conftest import BUCKET, s3_client


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_folder_by_default_and_from_deepar_storage(monkeypatch, tmp_path):
    assert isinstance(StorageResource().store(), FolderStore)
    monkeypatch.setenv("DEEPAR_STORAGE", str(tmp_path / "elsewhere"))
    store = StorageResource().store()
    assert isinstance(store, FolderStore) and store.root == (tmp_path / "elsewhere").resolve()


def test_deepar_storage_s3_gives_an_s3_store_on_the_aws_endpoint_url(bucket, aws_env, monkeypatch):
    monkeypatch.setenv("DEEPAR_STORAGE", f"s3://{BUCKET}/runs/one/")
    store = StorageResource().store()
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.endpoint_url) == (BUCKET, "runs/one", aws_env)
    store.put_bytes("k.json", b"1")
    assert s3_client().get_object(Bucket=BUCKET, Key="runs/one/k.json")["Body"].read() == b"1"


def test_the_s3_specific_endpoint_variable_wins(bucket, aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", _closed_port_url())
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_env)
    store = StorageResource(location=f"s3://{BUCKET}/p").store()
    store.put_bytes("k", b"1")
    assert store.get_bytes("k") == b"1"


def test_the_endpoint_field_wins_over_the_environment(bucket, aws_env):
    unreachable = _closed_port_url()
    store = StorageResource(location=f"s3://{BUCKET}/p", endpoint_url=unreachable, max_attempts=1).store()
    with pytest.raises(EndpointUnreachableError, match=unreachable):
        store.put_bytes("k", b"1")


def test_settings_reach_the_store(bucket):
    resource = StorageResource(
        location=f"s3://{BUCKET}/p",
        sse="AES256",
        multipart_threshold_mib=6,
        multipart_chunk_mib=7,
        max_attempts=2,
    )
    store = resource.store()
    assert store.sse == "AES256"
    assert (store.transfer.multipart_threshold, store.transfer.multipart_chunksize) == (6 * MiB, 7 * MiB)
    store.put_bytes("k", b"1")
    assert s3_client().head_object(Bucket=BUCKET, Key="p/k")["ServerSideEncryption"] == "AES256"


def test_max_attempts_counts_every_attempt(bucket, fault_proxy):
    store = StorageResource(location=f"s3://{BUCKET}/p", endpoint_url=fault_proxy.url, max_attempts=2).store()
    fault_proxy.fail("PUT", r"/p/k$", times=1000, status=503, code="ServiceUnavailable")
    with pytest.raises(StorageError, match=rf"upload s3://{BUCKET}/p/k failed after 2 attempt\(s\)"):
        store.put_bytes("k", b"1")
    assert len(fault_proxy.seen("PUT", r"/p/k$")) == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"location": "s3://"}, "the bucket is missing"),
        ({"location": "gs://bucket/prefix"}, "expected a folder or s3://bucket/prefix"),
        ({"location": "s3://b-u-c/p", "sse": "rot13"}, "expected one of AES256, aws:kms"),
        ({"location": "s3://b-u-c/p", "sse_kms_key_id": "alias/k"}, "set sse to aws:kms"),
        ({"location": "s3://b-u-c/p", "multipart_chunk_mib": 1}, "below S3's minimum"),
        ({"location": "s3://b-u-c/p", "max_attempts": 0}, "max_attempts must be at least 1"),
        ({"location": "s3://b-u-c/p", "profile_name": "no-such-profile"}, "no-such-profile"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(aws_env, fields, message):
    with pytest.raises(ConfigurationError, match=message):
        StorageResource(**fields).store()
