"""Publishing encoded series as a dataset version: the channels SageMaker and the local engine read."""

from __future__ import annotations

from dataclasses import dataclass

from deepar_assets.constants import CHANNELS, FREQ
from deepar_assets.domain.channels import (
    ChannelSplit,
    build_dataset_files,
    channel_file,
    content_version,
    split_channels,
)
from deepar_assets.domain.encoding import EncodedSeries
from deepar_assets.engines.base import DatasetRef
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.versions import PublishedVersion, publish

DATASETS_PREFIX = "datasets"


@dataclass(frozen=True)
class PublishedDataset:
    ref: DatasetRef
    split: ChannelSplit
    sizes: dict[str, int]  # object key → bytes
    published: PublishedVersion


def publish_dataset(store: ObjectStore, encoded: EncodedSeries, prediction_length: int) -> PublishedDataset:
    """Cut the channels, write them under ``datasets/<content hash>/`` and publish the
    manifest last. The same content publishes the same version and uploads nothing."""
    split = split_channels(encoded, prediction_length)
    files = build_dataset_files(encoded, split)
    version = content_version(files)
    published = publish(store, DATASETS_PREFIX, version, files)
    ref = DatasetRef(
        storage_uri=store.root_uri,
        base=published.prefix,
        version=version,
        manifest=published.manifest,
        channels={c: channel_file(c) for c in CHANNELS},
        records={c: int(len(split.members[c])) for c in CHANNELS},
        prediction_length=prediction_length,
        freq=FREQ,
        cardinality=encoded.encoding.cardinality,
        dynamic_feat=[f.name for f in encoded.encoding.dynamic_feat],
        last_week=f"{encoded.last_week:%Y-%m-%d}",
    )
    return PublishedDataset(ref=ref, split=split, sizes={k: len(v) for k, v in files.items()}, published=published)
