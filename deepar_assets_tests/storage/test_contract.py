"""The storage contract: every ObjectStore (a folder, S3 on moto's HTTP server) behaves the same."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest

from deepar_assets.errors import ObjectNotFoundError, StorageError
from deepar_assets.storage.base import ObjectChangedError, ObjectInfo, ObjectStore
from deepar_assets.storage.versions import MANIFEST, publish, read_manifest, read_verified
from deepar_assets_tests.storage.samples import FILES


class RecordingStore(ObjectStore):
    """Passes every call to a real store and remembers the order of the writes."""

    def __init__(self, inner: ObjectStore):
        self.inner = inner
        self.writes: list[str] = []

    @property
    def root_uri(self) -> str:
        return self.inner.root_uri

    def uri(self, key: str) -> str:
        return self.inner.uri(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.writes.append(key)
        self.inner.put_bytes(key, data)

    def get_bytes(self, key: str) -> bytes:
        return self.inner.get_bytes(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def sha256(self, key: str) -> str | None:
        return self.inner.sha256(key)

    def list_keys(self, prefix: str = "") -> list[str]:
        return self.inner.list_keys(prefix)


def test_put_get_overwrite(any_store):
    any_store.put_bytes("a/b/c.json", b"1")
    any_store.put_bytes("a/b/c.json", b"22")
    any_store.put_bytes("empty", b"")
    binary = bytes(range(256)) * 3
    any_store.put_bytes("bin/x.gz", binary)
    assert any_store.get_bytes("a/b/c.json") == b"22"
    assert any_store.get_bytes("empty") == b""
    assert any_store.get_bytes("bin/x.gz") == binary


def test_list_keys_sorted_and_by_prefix(any_store):
    assert any_store.list_keys() == []
    for key in ("b/2", "a/1", "ab/3", "a/z/4"):
        any_store.put_bytes(key, key.encode())
    assert any_store.list_keys() == ["a/1", "a/z/4", "ab/3", "b/2"]
    assert any_store.list_keys("a/") == ["a/1", "a/z/4"]
    assert any_store.list_keys("a") == ["a/1", "a/z/4", "ab/3"]
    assert any_store.list_keys("nothing/") == []


def test_exists_and_sha256(any_store):
    any_store.put_bytes("k/v.json", b"abc")
    assert any_store.exists("k/v.json")
    assert not any_store.exists("k/other.json") and not any_store.exists("k/v")
    assert any_store.sha256("k/v.json") == hashlib.sha256(b"abc").hexdigest()
    assert any_store.sha256("k/other.json") is None


def test_missing_key_names_it(any_store):
    with pytest.raises(ObjectNotFoundError, match=r"datasets/nope\.json"):
        any_store.get_bytes("datasets/nope.json")


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", ""])
def test_keys_cannot_escape_the_store(any_store, key):
    with pytest.raises(StorageError, match="outside"):
        any_store.put_bytes(key, b"x")


def test_uri_names_root_and_key(any_store):
    assert any_store.uri("datasets/v1/train/data.json") == f"{any_store.root_uri}/datasets/v1/train/data.json"
    assert any_store.describe()["storage"] == any_store.root_uri


def test_folder_round_trip(any_store, tmp_path):
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    (source / "a.json").write_text('{"a": 1}')
    (source / "sub" / "weights.pt").write_bytes(b"\x00\x01" * 100)
    keys = any_store.put_folder(source, "models/m1/predictor")
    assert keys == ["models/m1/predictor/a.json", "models/m1/predictor/sub/weights.pt"]
    any_store.put_bytes("models/m1/predictorX/not-mine", b"x")  # a sibling with a longer name
    target = any_store.get_folder("models/m1/predictor", tmp_path / "back")
    assert sorted(p.relative_to(target).as_posix() for p in Path(target).rglob("*") if p.is_file()) == [
        "a.json",
        "sub/weights.pt",
    ]
    assert (target / "sub" / "weights.pt").read_bytes() == b"\x00\x01" * 100


def test_publish_writes_manifest_last_and_is_idempotent(any_store):
    store = RecordingStore(any_store)
    first = publish(store, "datasets", "v1", FILES)
    assert first.uploaded == len(FILES)
    assert store.writes[-1] == f"datasets/v1/{MANIFEST}"
    assert sorted(store.writes[:-1]) == [f"datasets/v1/{k}" for k in sorted(FILES)]
    manifest = read_manifest(any_store, "datasets/v1")
    assert manifest["objects"]["train/data.json"] == {
        "size": len(FILES["train/data.json"]),
        "sha256": hashlib.sha256(FILES["train/data.json"]).hexdigest(),
    }

    store.writes.clear()
    again = publish(store, "datasets", "v1", FILES)
    assert again.uploaded == 0 and store.writes == []  # same content: nothing written
    for key, data in FILES.items():
        assert read_verified(any_store, "datasets/v1", key) == data


def test_an_interrupted_publish_is_completed_and_only_what_is_missing_is_written(any_store):
    # An earlier publish died after two objects (one of them cut short): no manifest, no version.
    any_store.put_bytes("datasets/v1/encoding.json", FILES["encoding.json"])
    any_store.put_bytes("datasets/v1/test/data.json", FILES["test/data.json"][:10])
    with pytest.raises(ObjectNotFoundError, match=MANIFEST):
        read_manifest(any_store, "datasets/v1")

    store = RecordingStore(any_store)
    published = publish(store, "datasets", "v1", FILES)
    assert published.uploaded == 3
    assert store.writes == [
        "datasets/v1/test/data.json",
        "datasets/v1/train/data.json",
        "datasets/v1/validation/data.json",
        f"datasets/v1/{MANIFEST}",
    ]
    for key, data in FILES.items():
        assert read_verified(any_store, "datasets/v1", key) == data


def test_read_verified_rejects_what_the_manifest_does_not_vouch_for(any_store):
    publish(any_store, "datasets", "v1", {"x": b"abc"})
    any_store.put_bytes("datasets/v1/x", b"abd")
    with pytest.raises(StorageError, match=r"datasets/v1/x does not match its manifest"):
        read_verified(any_store, "datasets/v1", "x")
    with pytest.raises(ObjectNotFoundError, match="lists no object 'y'"):
        read_verified(any_store, "datasets/v1", "y")
    assert json.loads(any_store.get_bytes(f"datasets/v1/{MANIFEST}"))["version"] == "v1"


def test_put_if_absent_creates_once_and_delete_removes(any_store):
    assert any_store.put_if_absent("log/0001.json", b"first")
    assert not any_store.put_if_absent("log/0001.json", b"second")  # refused: the first stays
    assert any_store.get_bytes("log/0001.json") == b"first"
    assert any_store.list_keys("log/") == ["log/0001.json"]  # no temporary file left beside it
    any_store.delete("log/0001.json")
    assert not any_store.exists("log/0001.json")
    any_store.delete("log/0001.json")  # already gone: not an error
    assert any_store.put_if_absent("log/0001.json", b"again")
    assert any_store.get_bytes("log/0001.json") == b"again"


def test_put_if_absent_racing_writers_exactly_one_wins(tmp_path):
    """On a folder (S3 makes the same promise for If-None-Match, but moto's emulation checks and
    writes in two steps, so a race there would test moto)."""
    from concurrent.futures import ThreadPoolExecutor

    from deepar_assets.storage.local import FolderStore

    store = FolderStore(tmp_path / "store")
    payloads = [f"writer {i}".encode() * 100_000 for i in range(8)]
    with ThreadPoolExecutor(len(payloads)) as pool:
        won = list(pool.map(lambda data: store.put_if_absent("log/0002.json", data), payloads))
    assert won.count(True) == 1
    assert store.get_bytes("log/0002.json") == payloads[won.index(True)]
    assert store.list_keys() == ["log/0002.json"]


@pytest.mark.parametrize("key", ["a/../b", "a/.", ".", "./a", "a//b", "a/", "/a"])
def test_both_stores_refuse_the_same_odd_keys_and_write_nothing(any_store, key, tmp_path):
    """A key is names separated by '/', none of them empty, '.' or '..', on a folder as on S3
    (a folder used to take ``a/../b`` and ``a/.``, and ``.`` left a partial file beside it)."""
    for call in (
        lambda: any_store.put_bytes(key, b"x"),
        lambda: any_store.get_bytes(key),
        lambda: any_store.exists(key),
    ):
        with pytest.raises(StorageError, match=rf"storage key {re.escape(repr(key))} points outside"):
            call()
    assert any_store.list_keys() == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_the_same_version_is_read_and_another_is_refused(any_store):
    any_store.put_bytes("2012-10-26_sales.csv", b"v1")
    [listed] = any_store.list_info()
    assert any_store.get_version("2012-10-26_sales.csv", listed) == b"v1"
    time.sleep(0.01)  # a folder's version is its size and modification time
    any_store.put_bytes("2012-10-26_sales.csv", b"v2")
    with pytest.raises(ObjectChangedError, match=r"2012-10-26_sales\.csv changed since it was listed"):
        any_store.get_version("2012-10-26_sales.csv", listed)
    with pytest.raises(ObjectNotFoundError, match="nope"):
        any_store.get_version("nope.csv", ObjectInfo("nope.csv", 2, listed.modified, listed.etag))
