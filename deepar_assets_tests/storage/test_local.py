import json
import os
import time

import pytest

from deepar_assets.errors import ConfigurationError, ObjectNotFoundError, StorageError
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.versions import MANIFEST, publish, read_manifest, read_verified


@pytest.fixture
def store(tmp_path):
    return FolderStore(tmp_path / "store")


def test_put_get_list(store):
    store.put_bytes("a/b/c.json", b"1")
    store.put_bytes("a/d.json", b"2")
    assert store.get_bytes("a/b/c.json") == b"1"
    assert store.list_keys("a/") == ["a/b/c.json", "a/d.json"]
    assert store.exists("a/d.json") and not store.exists("a/x")
    assert store.uri("a/d.json").endswith("store/a/d.json")


def test_overwrite_leaves_no_partial_files(store):
    store.put_bytes("k", b"old")
    store.put_bytes("k", b"new")
    assert store.get_bytes("k") == b"new"
    assert [p.name for p in store.root.iterdir()] == ["k"]


def test_missing_key_names_it(store):
    with pytest.raises(ObjectNotFoundError, match="nope.json"):
        store.get_bytes("nope.json")


def test_keys_cannot_escape_the_store(store):
    with pytest.raises(StorageError, match="outside"):
        store.put_bytes("../escape", b"x")


def test_publish_is_idempotent_and_manifest_is_last(store):
    files = {"train/data.json": b'{"a":1}\n', "encoding.json": b"{}"}
    first = publish(store, "datasets", "v1", files)
    assert first.uploaded == 2
    manifest = read_manifest(store, "datasets/v1")
    assert set(manifest["objects"]) == set(files)
    mtime = (store.root / "datasets/v1/train/data.json").stat().st_mtime_ns
    again = publish(store, "datasets", "v1", files)
    assert again.uploaded == 0
    assert (store.root / "datasets/v1/train/data.json").stat().st_mtime_ns == mtime
    assert read_verified(store, "datasets/v1", "train/data.json") == files["train/data.json"]


def test_a_version_without_manifest_is_republished(store):
    store.put_bytes("datasets/v1/train/data.json", b"partial")  # an interrupted earlier write
    published = publish(store, "datasets", "v1", {"train/data.json": b"complete"})
    assert published.uploaded == 1
    assert read_verified(store, "datasets/v1", "train/data.json") == b"complete"


def test_read_verified_detects_tampering(store):
    publish(store, "datasets", "v1", {"x": b"abc"})
    store.put_bytes("datasets/v1/x", b"abd")
    with pytest.raises(StorageError, match="does not match its manifest"):
        read_verified(store, "datasets/v1", "x")
    with pytest.raises(ObjectNotFoundError, match="lists no object"):
        read_verified(store, "datasets/v1", "y")
    assert json.loads(store.get_bytes(f"datasets/v1/{MANIFEST}"))["version"] == "v1"


def test_a_root_that_is_a_file_is_named_as_the_problem(tmp_path):
    """Not an empty store (which made encoded_series say "materialize raw_sales first")."""
    root = tmp_path / "storage"
    root.write_text("not a folder")
    with pytest.raises(ConfigurationError, match=rf"the storage root {root} is a file, not a folder"):
        FolderStore(root)
    later = FolderStore(tmp_path / "later")  # a root replaced by a file after the store was built
    (tmp_path / "later").write_text("x")
    for call in (later.list_keys, later.list_info, lambda: later.get_bytes("raw/log/x.json")):
        with pytest.raises(ConfigurationError, match="is a file, not a folder"):
            call()


def test_partial_files_of_killed_writes_are_removed_once_stale(store, tmp_path):
    store.put_bytes("datasets/v1/train/data.json", b"{}")
    stale = store.root / "datasets" / "v1" / "train" / ".data.json.abc.partial"
    fresh = store.root / "datasets" / ".manifest.json.def.partial"
    for path in (stale, fresh):
        path.write_bytes(b"half")
    hour_ago = time.time() - 3601
    os.utime(stale, (hour_ago, hour_ago))
    assert store.clean_abandoned() == [str(stale)]
    assert not stale.exists() and fresh.exists()  # perhaps a write still going
    assert store.get_bytes("datasets/v1/train/data.json") == b"{}"
    assert store.clean_abandoned(now=time.time() + 3601) == [str(fresh)]
    assert FolderStore(tmp_path / "none").clean_abandoned() == []
