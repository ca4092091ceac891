"""publish_dataset with gzipped channels: truthful keys, stable versions, readable by the local engine."""

from __future__ import annotations

import gzip
import os
import time

import numpy as np
import pytest

from deepar_assets.domain.encoding import encode
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec import load_spec
from deepar_assets.engines.local import LocalEngine
from deepar_assets.storage.datasets import publish_dataset
from deepar_assets.storage.local import FolderStore


@pytest.fixture(scope="module")
def encoded(small_source):
    return encode(read_dataset(load_spec("synthetic"), small_source))


def test_compressed_channels_are_gzipped_json_lines_under_gz_keys(encoded, tmp_path):
    store = FolderStore(tmp_path / "store")
    plain = publish_dataset(store, encoded, prediction_length=4)
    packed = publish_dataset(store, encoded, prediction_length=4, compress=True)
    assert packed.ref.version != plain.ref.version  # different bytes, different version
    assert packed.ref.channels == {c: f"{c}/data.json.gz" for c in ("train", "test", "validation")}
    assert set(packed.published.manifest["objects"]) == {*packed.ref.channels.values(), "encoding.json"}
    for channel, key in packed.ref.channels.items():
        stored = store.get_bytes(f"{packed.ref.base}/{key}")
        assert stored[:2] == b"\x1f\x8b" and packed.sizes[key] == len(stored)
        assert gzip.decompress(stored) == store.get_bytes(f"{plain.ref.base}/{channel}/data.json")
    assert store.get_bytes(f"{packed.ref.base}/encoding.json") == store.get_bytes(f"{plain.ref.base}/encoding.json")


def test_compressed_versions_are_stable(encoded, tmp_path):
    first = publish_dataset(FolderStore(tmp_path / "a"), encoded, prediction_length=4, compress=True)
    again = publish_dataset(FolderStore(tmp_path / "b"), encoded, prediction_length=4, compress=True)
    assert first.ref.version == again.ref.version  # no timestamp in the gzip header


def test_the_local_engine_reads_gzipped_channels(encoded, tmp_path):
    store = FolderStore(tmp_path / "store")
    plain = publish_dataset(store, encoded, prediction_length=4).ref
    packed = publish_dataset(store, encoded, prediction_length=4, compress=True).ref
    engine = LocalEngine(store, tmp_path / "work")
    for channel in ("train", "test", "validation"):
        a, b = engine.read_channel(plain, channel), engine.read_channel(packed, channel)
        assert len(a) == len(b) == packed.records[channel] > 0
        assert [r["cat"] for r in a] == [r["cat"] for r in b]
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x["target"], y["target"])  # NaN where NaN


def test_the_dataset_ref_follows_the_encoding(encoded, tmp_path):
    """freq, cardinality, features and T come from the encoding (the spec), not from constants."""
    ref = publish_dataset(FolderStore(tmp_path / "store"), encoded, prediction_length=4).ref
    assert ref.freq == encoded.encoding.freq == encoded.spec.frequency
    assert ref.cardinality == encoded.encoding.cardinality
    assert ref.dynamic_feat == [f.name for f in encoded.encoding.dynamic_feat]
    assert ref.last_period == f"{encoded.last_period:%Y-%m-%d}"


def test_the_spec_is_part_of_the_version(encoded, tmp_path):
    """Same data, another spec (here only its description): another encoding.json, another version."""
    import dataclasses

    from deepar_assets.domain.encoding import Encoding
    from deepar_assets.domain.spec import spec_hash

    store = FolderStore(tmp_path / "store")
    first = publish_dataset(store, encoded, prediction_length=4)
    spec = encoded.spec.model_copy(update={"description": "the same data, described otherwise"})
    other = dataclasses.replace(
        encoded,
        spec=spec,
        encoding=dataclasses.replace(encoded.encoding, spec=spec.model_dump(mode="json"), spec_hash=spec_hash(spec)),
    )
    second = publish_dataset(store, other, prediction_length=4)
    assert second.ref.version != first.ref.version
    stored = Encoding.from_json(store.get_bytes(f"{second.ref.base}/encoding.json"))
    assert stored.spec_hash == spec_hash(spec) != spec_hash(encoded.spec)
    for channel in ("train", "test", "validation"):
        key = f"{channel}/data.json"
        assert store.get_bytes(f"{first.ref.base}/{key}") == store.get_bytes(f"{second.ref.base}/{key}")


def test_what_killed_publishes_left_is_removed_at_the_next_one(encoded, tmp_path):
    staging = tmp_path / "staging"
    killed, young = staging / "dataset-killed", staging / "dataset-young"
    (killed / "plain" / "train").mkdir(parents=True)
    (killed / "plain" / "train" / "data.json").write_bytes(b"{}" * 1000)
    young.mkdir()  # perhaps a publish still going
    store = FolderStore(tmp_path / "store")
    partial = store.root / "datasets" / ".manifest.json.x1.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    for path in (killed, partial):
        os.utime(path, (two_hours_ago, two_hours_ago))
    published = publish_dataset(store, encoded, prediction_length=4, staging_dir=staging)
    assert published.cleaned == {"staging_folders": [str(killed)], "store": [str(partial)]}
    assert [p.name for p in staging.iterdir()] == ["dataset-young"]  # and the publish's own folder is gone
    assert store.exists(f"{published.ref.base}/manifest.json")
