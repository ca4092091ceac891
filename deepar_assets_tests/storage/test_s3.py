"""S3 specifics, against moto's S3 server over HTTP; faults come from an HTTP proxy in front of it."""

from __future__ import annotations

import hashlib
import random
import socket

import pytest

from deepar_assets.errors import (
    AccessDeniedError,
    BucketNotFoundError,
    ConfigurationError,
    EndpointUnreachableError,
    ObjectNotFoundError,
    StorageError,
)
from deepar_assets.resources.storage import s3_client as resource_s3_client
from deepar_assets.storage.base import ObjectChangedError
from deepar_assets.storage.s3 import MiB, S3Store, parse_s3_uri
from deepar_assets.storage.versions import MANIFEST, publish, read_manifest, read_verified
from deepar_assets_tests.storage.conftest import BUCKET, PREFIX, s3_client
from deepar_assets_tests.storage.samples import FILES

ROOT = f"s3://{BUCKET}/{PREFIX}"


def _bucket_keys() -> list[str]:
    """Every key in the test bucket, as the server holds them (no prefix stripped)."""
    pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _big(n_bytes: int) -> bytes:
    return random.Random(0).randbytes(n_bytes)


def test_keys_live_under_the_prefix_and_uris_are_s3(make_s3_store, aws_env):
    store = make_s3_store()
    store.put_bytes("datasets/v1/train/data.json", b"{}\n")
    assert _bucket_keys() == [f"{PREFIX}/datasets/v1/train/data.json"]
    assert store.root_uri == ROOT
    assert store.uri("datasets/v1/train/data.json") == f"{ROOT}/datasets/v1/train/data.json"
    assert store.describe() == {"storage": ROOT, "endpoint": aws_env}
    assert make_s3_store(prefix="").uri("k") == f"s3://{BUCKET}/k"


def test_parse_s3_uri():
    assert parse_s3_uri("s3://bucket/a/b/") == ("bucket", "a/b")
    assert parse_s3_uri("s3://bucket") == ("bucket", "")
    with pytest.raises(ConfigurationError, match="bucket is missing"):
        parse_s3_uri("s3:///prefix")


def test_sse_aes256_reaches_the_server_for_single_and_multipart_uploads(make_s3_store):
    store = make_s3_store(sse="AES256")
    store.put_bytes("small.json", b"{}")
    store.put_bytes("big.bin", _big(6 * MiB))
    for key in ("small.json", "big.bin"):
        head = s3_client().head_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")
        assert head["ServerSideEncryption"] == "AES256", key
    assert store.describe()["sse"] == "AES256"


def test_sse_kms_with_a_key_id_reaches_the_server(make_s3_store, aws_env):
    import boto3

    key_id = boto3.client("kms", endpoint_url=aws_env).create_key(Description="deepar test")["KeyMetadata"]["KeyId"]
    store = make_s3_store(sse="aws:kms", sse_kms_key_id=key_id)
    store.put_bytes("secret.json", b"{}")
    head = s3_client().head_object(Bucket=BUCKET, Key=f"{PREFIX}/secret.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]
    assert store.get_bytes("secret.json") == b"{}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sse": "DES"}, "expected one of AES256, aws:kms"),
        ({"sse_kms_key_id": "alias/k"}, "not 'aws:kms'"),
        ({"sse": "AES256", "sse_kms_key_id": "alias/k"}, "not 'aws:kms'"),
        ({"multipart_chunksize": MiB}, "below S3's minimum"),
    ],
)
def test_bad_settings_are_refused(aws_env, options, message):
    with pytest.raises(ConfigurationError, match=message):
        S3Store(s3_client(), BUCKET, PREFIX, **options)


def test_large_objects_go_up_in_parts_small_ones_in_one_put(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url)  # parts of 5 MiB above 5 MiB
    data = _big(11 * MiB)
    store.put_bytes("big.bin", data)
    assert len(fault_proxy.seen("POST", r"big\.bin\?uploads")) == 1
    assert len(fault_proxy.seen("PUT", r"big\.bin\?.*partNumber=")) == 3
    assert len(fault_proxy.seen("POST", r"big\.bin\?uploadId=")) == 1  # CompleteMultipartUpload
    head = s3_client().head_object(Bucket=BUCKET, Key=f"{PREFIX}/big.bin")
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == len(data)
    assert store.get_bytes("big.bin") == data
    assert store.sha256("big.bin") == hashlib.sha256(data).hexdigest()

    fault_proxy.clear()
    store.put_bytes("small.json", b"{}")
    assert [(r.method, r.path.split("?")[0]) for r in fault_proxy.seen()] == [("PUT", f"/{BUCKET}/{PREFIX}/small.json")]


def test_list_keys_pages_through_every_key(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url, page_size=10)
    keys = [f"many/{i:03d}.json" for i in range(45)]
    for key in keys:
        store.put_bytes(key, b"1")
    store.put_bytes("other/x.json", b"1")
    fault_proxy.clear()
    assert store.list_keys("many/") == keys
    assert len(fault_proxy.seen("GET", r"list-type=2")) == 5  # 10 + 10 + 10 + 10 + 5


# -- faults -------------------------------------------------------------------------------


def test_5xx_answers_and_throttling_are_retried_then_succeed(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url, max_attempts=4)
    fault_proxy.fail("PUT", r"/a\.json$", times=2, status=500, code="InternalError")
    fault_proxy.fail("PUT", r"/a\.json$", times=1, status=503, code="SlowDown")
    fault_proxy.fail("GET", r"/a\.json$", times=1, status=503, code="ServiceUnavailable")
    store.put_bytes("a.json", b"payload")
    assert store.get_bytes("a.json") == b"payload"
    assert [r.fault for r in fault_proxy.seen("PUT", r"/a\.json$")] == [
        "500 InternalError",
        "500 InternalError",
        "503 SlowDown",
        None,
    ]
    assert [r.fault for r in fault_proxy.seen("GET", r"/a\.json$")] == ["503 ServiceUnavailable", None]


def test_connections_dropped_mid_upload_are_retried(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url, max_attempts=4)
    data = _big(11 * MiB)
    fault_proxy.drop("PUT", r"big\.bin\?.*partNumber=2", times=2)
    fault_proxy.drop("PUT", r"/small\.json$", times=1)
    store.put_bytes("big.bin", data)
    store.put_bytes("small.json", b'{"a": 1}')
    assert len(fault_proxy.seen("PUT", r"partNumber=2")) == 3
    assert [r.fault for r in fault_proxy.seen("PUT", r"/small\.json$")] == ["dropped", None]
    assert store.get_bytes("big.bin") == data
    assert store.get_bytes("small.json") == b'{"a": 1}'


def test_a_download_cut_off_mid_body_is_read_again(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url, max_attempts=3)
    data = _big(200_000)
    store.put_bytes("d.bin", data)
    fault_proxy.cut("GET", r"/d\.bin$", times=2)
    assert store.get_bytes("d.bin") == data
    assert [r.fault for r in fault_proxy.seen("GET", r"/d\.bin$")] == ["cut", "cut", None]

    fault_proxy.cut("GET", r"/d\.bin$", times=1000)
    with pytest.raises(StorageError, match=rf"download s3://{BUCKET}/{PREFIX}/d\.bin failed: the connection to"):
        store.get_bytes("d.bin")


def test_retries_exhausted_fail_clearly_publish_nothing_and_a_rerun_completes(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url, max_attempts=3)
    fault_proxy.fail("PUT", r"/datasets/v1/test/data\.json$", times=1000, status=500, code="InternalError")
    with pytest.raises(StorageError) as failed:
        publish(store, "datasets", "v1", FILES)
    message = str(failed.value)
    assert f"s3://{BUCKET}/{PREFIX}/datasets/v1/test/data.json" in message
    assert "3 attempt(s)" in message and "InternalError" in message
    assert len(fault_proxy.seen("PUT", r"test/data\.json$")) == 3
    # Nothing after the failed object was written, least of all the manifest: no version.
    assert _bucket_keys() == [f"{PREFIX}/datasets/v1/encoding.json"]
    with pytest.raises(ObjectNotFoundError, match=MANIFEST):
        read_manifest(store, "datasets/v1")

    fault_proxy.clear()
    published = publish(store, "datasets", "v1", FILES)
    assert published.uploaded == 3  # encoding.json came through whole the first time
    puts = [r.path for r in fault_proxy.seen("PUT")]
    assert puts[-1].endswith(f"datasets/v1/{MANIFEST}") and len(puts) == 4
    for key, data in FILES.items():
        assert read_verified(store, "datasets/v1", key) == data


def test_a_multipart_upload_that_keeps_breaking_off_leaves_no_object_behind(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url, max_attempts=2)
    fault_proxy.drop("PUT", r"big\.bin\?.*partNumber=3", times=1000)
    with pytest.raises(StorageError, match=rf"upload s3://{BUCKET}/{PREFIX}/big\.bin failed: the connection to"):
        store.put_bytes("big.bin", _big(11 * MiB))
    assert _bucket_keys() == []
    assert "Uploads" not in s3_client().list_multipart_uploads(Bucket=BUCKET)  # aborted


def test_access_denied_has_its_own_message_and_is_not_retried(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url, max_attempts=3)
    for method in ("PUT", "GET", "HEAD"):
        fault_proxy.fail(method, r"/k\.json", times=1000, status=403, code="AccessDenied")
    with pytest.raises(AccessDeniedError, match=rf"upload s3://{BUCKET}/{PREFIX}/k\.json: access denied") as denied:
        store.put_bytes("k.json", b"1")
    assert "AWS_PROFILE" in str(denied.value) and "s3:PutObject" in str(denied.value)
    assert len(fault_proxy.seen("PUT")) == 1
    with pytest.raises(AccessDeniedError, match=r"k\.json"):
        store.exists("k.json")  # HEAD: a bare 403, no error body
    with pytest.raises(AccessDeniedError, match=r"k\.json"):
        store.get_bytes("k.json")


def test_a_missing_bucket_has_its_own_message(aws_env):
    store = S3Store(s3_client(), "no-such-bucket", "p")
    expected = "the bucket 'no-such-bucket' does not exist"
    with pytest.raises(BucketNotFoundError, match=expected):
        store.put_bytes("k", b"1")
    with pytest.raises(BucketNotFoundError, match=expected):
        store.get_bytes("k")
    with pytest.raises(BucketNotFoundError, match=expected):
        store.exists("k")  # a bare 404 from HEAD, told apart from a missing key
    with pytest.raises(BucketNotFoundError, match=expected):
        store.list_keys()
    with pytest.raises(BucketNotFoundError, match=expected):
        publish(store, "datasets", "v1", FILES)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_endpoint_has_its_own_message(aws_env):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    store = S3Store(s3_client(endpoint, max_attempts=2), BUCKET, PREFIX)
    with pytest.raises(EndpointUnreachableError, match=rf"cannot reach the S3 endpoint {endpoint}.*AWS_ENDPOINT_URL"):
        store.get_bytes("k")
    with pytest.raises(EndpointUnreachableError, match=rf"upload s3://{BUCKET}/{PREFIX}/k"):
        store.put_bytes("k", b"1")


def test_missing_credentials_have_their_own_message(aws_env, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store(resource_s3_client(max_attempts=1), BUCKET, PREFIX)
    with pytest.raises(AccessDeniedError, match="no usable AWS credentials"):
        store.put_bytes("k", b"1")


def test_multipart_uploads_a_killed_run_left_are_aborted_once_stale(make_s3_store):
    """moto dates every upload 2010-11-10T20:48:33Z, so "now" is set around that time to tell
    a stale upload from one that may still be going."""
    store = make_s3_store()
    client = s3_client()
    mine = client.create_multipart_upload(Bucket=BUCKET, Key=f"{PREFIX}/datasets/v1/train/data.json")["UploadId"]
    other = client.create_multipart_upload(Bucket=BUCKET, Key="someone-else/big.bin")["UploadId"]
    [initiated] = {u["Initiated"].timestamp() for u in client.list_multipart_uploads(Bucket=BUCKET)["Uploads"]}
    assert store.clean_abandoned(now=initiated + 60) == []  # young: perhaps still uploading
    assert store.clean_abandoned(now=initiated + 3601) == [
        f"{ROOT}/datasets/v1/train/data.json (multipart upload {mine})"
    ]
    left = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert [u["UploadId"] for u in left] == [other]  # outside the store's prefix: not ours
    assert store.clean_abandoned(now=initiated + 3601) == []


def test_a_model_download_with_a_dotdot_key_creates_nothing_before_refusing(make_s3_store, tmp_path):
    store = make_s3_store()
    store.put_bytes("models/m1/predictor/a.json", b"{}")
    sneaky = f"{PREFIX}/models/m1/predictor/x/../../../escaped/y.json"
    s3_client().put_object(Bucket=BUCKET, Key=sneaky, Body=b"1")
    assert sneaky in _bucket_keys()
    with pytest.raises(StorageError, match=r"would be written outside .*scratch.*nothing was downloaded"):
        store.get_folder("models/m1/predictor", tmp_path / "a" / "b" / "scratch")
    assert list(tmp_path.iterdir()) == []


def test_a_changed_object_is_refused_by_its_etag(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url)
    store.put_bytes("2012-10-26_sales.csv", b"v1")
    [listed] = store.list_info()
    store.put_bytes("2012-10-26_sales.csv", b"v2")  # same size: only the ETag tells
    fault_proxy.clear()
    with pytest.raises(ObjectChangedError, match=rf"{ROOT}/2012-10-26_sales\.csv changed since it was listed"):
        store.get_version("2012-10-26_sales.csv", listed)
    assert len(fault_proxy.seen("GET")) == 1  # one conditional GET (If-Match), not retried
