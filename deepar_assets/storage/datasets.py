"""Publishing encoded series as a dataset version: the channels SageMaker and the local engine read."""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from deepar_assets.constants import CHANNELS
from deepar_assets.domain.channels import (
    ChannelSplit,
    channel_file,
    split_channels,
    version_from_digests,
    write_dataset_files,
)
from deepar_assets.domain.encoding import EncodedSeries
from deepar_assets.domain.spec.periods import format_period
from deepar_assets.engines.base import DatasetRef
from deepar_assets.errors import StorageError
from deepar_assets.storage.base import ObjectStore, clean_stale_folders, scratch_folder
from deepar_assets.storage.versions import PublishedVersion, publish_files

DATASETS_PREFIX = "datasets"
GZIP_SUFFIX = ".gz"
STAGING_PREFIX = "dataset-"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedDataset:
    ref: DatasetRef
    split: ChannelSplit
    sizes: dict[str, int]  # object key → bytes
    published: PublishedVersion
    cleaned: dict[str, object] = field(default_factory=dict)  # what killed runs left, removed: clean_leftovers


def clean_leftovers(store: ObjectStore, staging_dir: Path | None) -> dict[str, object]:
    """Remove what killed runs left, older than an hour and not in use: staging folders under
    ``staging_dir``, the store's partial files or unfinished multipart uploads. Returns what was
    removed (``staging_folders``, ``store``), and ``failed`` with the reason when the cleanup
    failed (the publish goes on: leftovers are removed by a later one)."""
    folders: list[str] = []
    abandoned: list[str] = []
    cleaned: dict[str, object] = {"staging_folders": folders, "store": abandoned}
    try:
        if staging_dir is not None:
            folders.extend(clean_stale_folders(Path(staging_dir), STAGING_PREFIX))
        abandoned.extend(store.clean_abandoned())
    except StorageError as exc:
        cleaned["failed"] = str(exc)
        logger.warning(f"cleaning up what interrupted publishes left failed (a later publish tries again): {exc}")
    for what, removed in (("stale staging folder(s)", folders), ("abandoned upload(s)", abandoned)):
        if removed:
            logger.info(f"removed {len(removed)} {what} of interrupted publishes: {', '.join(map(str, removed))}")
    return cleaned


def _gzip_file(source: Path, target: Path) -> tuple[int, str]:
    """Gzip a channel file for DeepAR (``data.json`` → ``data.json.gz``), streaming. No name or
    time goes into the gzip header, so the same data gives the same bytes and the same version."""
    with open(source, "rb") as plain, open(target, "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=6, mtime=0) as packed:
            shutil.copyfileobj(plain, packed, 1 << 20)
    with open(target, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    return target.stat().st_size, digest.hexdigest()


def publish_dataset(
    store: ObjectStore,
    encoded: EncodedSeries,
    prediction_length: int,
    compress: bool = False,
    rolling_origins: int = 1,
    origin_step: int | None = None,
    staging_dir: Path | None = None,
    workers: int = 1,
) -> PublishedDataset:
    """Cut the channels, stream them into a local staging folder (hashing as they go), and
    publish them under ``datasets/<content hash>/`` with the manifest last. The same content
    publishes the same version and uploads nothing. What killed publishes left is removed
    first (:func:`clean_leftovers`; ``cleaned`` says what). ``encoding.json`` records the spec and its
    hash, so the version changes with the spec too."""
    split = split_channels(encoded, prediction_length, rolling_origins, origin_step)
    cleaned = clean_leftovers(store, staging_dir)
    with scratch_folder(Path(staging_dir or tempfile.gettempdir()), STAGING_PREFIX) as scratch:
        written = write_dataset_files(encoded, split, Path(scratch) / "plain", workers=workers)
        files = {key: (f.path, f.size, f.sha256) for key, f in written.items()}
        if compress:
            for channel in CHANNELS:
                key = channel_file(channel)
                path = files.pop(key)[0]
                packed = Path(scratch) / "gz" / (key + GZIP_SUFFIX)
                packed.parent.mkdir(parents=True, exist_ok=True)
                files[key + GZIP_SUFFIX] = (packed, *_gzip_file(path, packed))
        version = version_from_digests({key: sha for key, (_, _, sha) in files.items()})
        published = publish_files(store, DATASETS_PREFIX, version, files)
    ref = DatasetRef(
        storage_uri=store.root_uri,
        base=published.prefix,
        version=version,
        manifest=published.manifest,
        channels={c: channel_file(c) + (GZIP_SUFFIX if compress else "") for c in CHANNELS},
        records={c: split.record_count(c) for c in CHANNELS},
        prediction_length=prediction_length,
        freq=encoded.encoding.freq,
        cardinality=encoded.encoding.cardinality,
        dynamic_feat=[f.name for f in encoded.encoding.dynamic_feat],
        last_period=format_period(encoded.last_period, encoded.encoding.freq),
    )
    return PublishedDataset(
        ref=ref, split=split, sizes={k: size for k, (_, size, _) in files.items()}, published=published, cleaned=cleaned
    )
