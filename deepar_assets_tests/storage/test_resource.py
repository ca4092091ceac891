"""StorageResource: which store DEEPAR_STORAGE and the resource's config give, read at run time."""

from __future__ import annotations

import re
import socket
import time

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


@pytest.mark.parametrize(
    "value", ["s3:/bucket/p", "S3://bucket/p", "s3a://bucket/p", "http://host/p", "file:///tmp/p", "s3:bucket/p"]
)
def test_a_location_with_another_scheme_is_refused_not_made_a_folder(monkeypatch, tmp_path, value):
    """``s3:/bucket/p`` (one slash) used to become the folder ./s3:/bucket/p."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEEPAR_STORAGE", value)
    expected = rf"DEEPAR_STORAGE={re.escape(repr(value))}: .* expected a folder or s3://bucket/prefix"
    with pytest.raises(ConfigurationError, match=expected):
        StorageResource().store()
    with pytest.raises(ConfigurationError, match=r"resources\.storage\.config\.location="):
        StorageResource(location=value).store()
    assert list(tmp_path.iterdir()) == []


def test_deepar_storage_pointing_at_a_file_says_so(monkeypatch, tmp_path):
    (tmp_path / "storage").write_text("a file")
    monkeypatch.setenv("DEEPAR_STORAGE", str(tmp_path / "storage"))
    with pytest.raises(ConfigurationError, match=r"DEEPAR_STORAGE=.*storage'.* is a file, not a folder"):
        StorageResource().store()


def test_timeouts_come_from_the_fields_else_the_environment_else_seconds(aws_env, monkeypatch):
    config = StorageResource(location=f"s3://{BUCKET}/p").store().client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (10, 30)
    monkeypatch.setenv("DEEPAR_S3_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("DEEPAR_S3_READ_TIMEOUT", "4.5")
    config = StorageResource(location=f"s3://{BUCKET}/p").store().client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 4.5)
    config = StorageResource(location=f"s3://{BUCKET}/p", read_timeout=7).store().client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 7)
    monkeypatch.setenv("DEEPAR_S3_READ_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match=r"DEEPAR_S3_READ_TIMEOUT='soon': expected a number of seconds"):
        StorageResource(location=f"s3://{BUCKET}/p").store()
    with pytest.raises(ConfigurationError, match=r"connect_timeout=0\.0: expected a positive"):
        StorageResource(location=f"s3://{BUCKET}/p", connect_timeout=0).store()


def test_an_endpoint_that_never_answers_fails_in_seconds_saying_it_timed_out(bucket, fault_proxy):
    """botocore's defaults (60 s × 5 attempts) held a call for five minutes, then said the
    connection "broke off"."""
    store = StorageResource(
        location=f"s3://{BUCKET}/p", endpoint_url=fault_proxy.url, max_attempts=2, read_timeout=0.5
    ).store()
    fault_proxy.hang("GET", r"/p/k\.json", times=1000)
    started = time.monotonic()
    with pytest.raises(
        StorageError, match=r"download s3://deepar-test/p/k\.json: .* timed out after 0\.5 s × 2 attempts"
    ):
        store.get_bytes("k.json")
    assert time.monotonic() - started < 10
    assert len(fault_proxy.seen("GET", r"/p/k\.json")) == 2
