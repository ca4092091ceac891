"""The landing zone where drops of new partitions arrive: a folder or s3://bucket/prefix, over
the same ObjectStore implementations as the rest of the storage (listing with sizes,
modification times and ETags; atomic writes; errors naming the key).

``read_partition_drop`` turns one partition's drop into validated rows ready to store: each
file is read by the same table reader as the source's files (from a local copy under the work
folder, so S3 drops are read like local ones, and errors name the drop's own location),
completed with the related rows and metadata stored earlier, and checked against the
partition it claims to be.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from deepar_assets.domain.landing import SUFFIXES, DropRequest, assemble_partition, parse_file_version
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading import TableData, layout, read_table
from deepar_assets.domain.reading.files import file_format
from deepar_assets.domain.reading.tables import Rows
from deepar_assets.domain.spec import DatasetSpec
from deepar_assets.domain.spec.models import MetadataTable, RelatedTable, TargetTable
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.base import (
    ObjectChangedError,
    ObjectInfo,
    ObjectStore,
    clean_stale_folders,
    scratch_folder,
)
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import StoredRaw

T = TypeVar("T")


SCRATCH_PREFIX = "landing-"


class LandingZone:
    """Drops directly under a store's root (sub-folders are not looked into). A zone pinned to
    the file versions a run was asked for (:meth:`pinned`) reads each of those files in that
    version only, so what a run ingests is what it records."""

    def __init__(self, store: ObjectStore, versions: Mapping[str, str] | None = None):
        self.store = store
        self.versions = dict(versions or {})  # key → the file version to read (domain.landing.file_version)
        self.cleaned: list[str] = []  # temporary folders of killed runs removed by this zone's reads

    def pinned(self, versions: Mapping[str, str]) -> LandingZone:
        """This zone, reading each key of ``versions`` only in that version (a run's request)."""
        return LandingZone(self.store, versions)

    @property
    def root_uri(self) -> str:
        return self.store.root_uri

    def uri(self, key: str) -> str:
        return self.store.uri(key)

    def missing(self) -> str | None:
        """Why there is nothing to list (a landing folder that does not exist), else None."""
        if isinstance(self.store, FolderStore) and not self.store.root.is_dir():
            return f"the landing folder {self.store.root} does not exist"
        return None

    def listing(self) -> list[ObjectInfo]:
        """Every file in the zone with its size, modification time and ETag (S3: every page)."""
        return [info for info in self.store.list_info("") if "/" not in info.key]

    def put(self, key: str, data: bytes) -> None:
        """Write a file whole (a folder: a hidden temporary name, then a rename)."""
        self.store.put_bytes(key, data)

    def get_bytes(self, key: str) -> bytes:
        """A file's bytes; a pinned key in its version only, else ObjectChangedError saying so."""
        version = self.versions.get(key)
        if version is None:
            return self.store.get_bytes(key)
        size, etag, modified = parse_file_version(version)
        expect = ObjectInfo(key, size, math.nan if modified is None else modified, etag)
        try:
            return self.store.get_version(key, expect)
        except ObjectChangedError as exc:
            raise ObjectChangedError(
                f"{exc}. This run was asked to ingest the version {version} of {self.uri(key)} and ingests nothing; "
                "the landing sensor requests the new version on its next look"
            ) from None

    @contextmanager
    def local_copy(self, key: str, work_dir: Path) -> Iterator[Path]:
        """The drop as a local file with its own name (its .gz suffix says how to read it), in a
        temporary folder; those that killed runs left are removed first."""
        self.cleaned += clean_stale_folders(Path(work_dir), SCRATCH_PREFIX)
        with scratch_folder(Path(work_dir), SCRATCH_PREFIX) as folder:
            path = folder / key.rsplit("/", 1)[-1]
            path.write_bytes(self.get_bytes(key))
            yield path

    def read(self, key: str, reader: Callable[[Path], T], work_dir: Path) -> T:
        """``reader`` on a local copy of the drop; its errors and warnings name the drop."""
        uri = self.uri(key)
        with self.local_copy(key, work_dir) as path:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    result = reader(path)
            except DataValidationError as exc:
                raise DataValidationError(str(exc).replace(str(path), uri)) from None
        for warning in caught:
            warnings.warn(str(warning.message).replace(str(path), uri), warning.category, stacklevel=2)
        return result

    def read_table(
        self, spec: DatasetSpec, table: TargetTable | RelatedTable | MetadataTable, key: str, work_dir: Path
    ) -> TableData:
        """One drop read as the spec's ``table``, typed and checked; its rows name the drop."""
        data = self.read(key, lambda path: read_table(spec, table, [path]), work_dir)
        return TableData(data.layout, data.frame, Rows([(self.uri(key), 0, file_format(Path(key)))]))

    def metadata_key(self, table: str, listing: list[ObjectInfo] | None = None) -> str | None:
        """``<table>.csv``, ``.csv.gz`` or ``.parquet`` when the zone has one (two: an error)."""
        keys = {info.key for info in (self.listing() if listing is None else listing)}
        found = [f"{table}{suffix}" for suffix in SUFFIXES if f"{table}{suffix}" in keys]
        if len(found) > 1:
            raise DataValidationError(
                f"{self.root_uri}: both {' and '.join(found)} exist; keep one so it is clear which is read"
            )
        return found[0] if found else None


def read_partition_drop(
    zone: LandingZone, store: ObjectStore | StoredRaw, spec: DatasetSpec, drop: DropRequest, work_dir: Path
) -> RawData:
    """One partition's drop, read, validated and completed with what is stored (``store``, or
    one committed state of it: what ``write_partitions(..., over=stored.manifest)`` then merges
    over): the related rows of the partition from its drops, else those stored for it or ahead of
    the history; each metadata table from the zone's ``<table>.csv``, else the one stored."""
    target = zone.read_table(spec, spec.target, drop.target_key, work_dir)
    related = {name: zone.read_table(spec, spec.table(name), key, work_dir) for name, key in drop.related_keys.items()}
    listing = zone.listing()
    stored = store if isinstance(store, StoredRaw) else StoredRaw(store, spec)  # one committed state
    metadata: dict[str, TableData] = {}
    for table in spec.metadata:
        key = zone.metadata_key(table.name, listing)
        if key:
            metadata[table.name] = zone.read_table(spec, table, key, work_dir)
            continue
        frame = stored.metadata(table.name)
        if frame is None:
            raise DataValidationError(
                f"{zone.uri(drop.target_key)}: no {table.name} attributes to check it against: {stored.where} stores "
                f"no {table.name} table and {zone.root_uri} has no {table.name}.csv; load the history first (make run) "
                f"or put {table.name}.csv in the landing zone"
            )
        metadata[table.name] = TableData(layout(spec, table), frame, Rows([(stored.name(table.name), 0, "parquet")]))
    return assemble_partition(
        spec,
        drop.partition,
        target,
        metadata,
        related_drops=related,
        stored_window={t.name: stored.partition(t.name, drop.partition) for t in spec.related},
        stored_ahead={t.name: stored.ahead(t.name) for t in spec.related},
        stored_names={t.name: stored.name(t.name) for t in spec.related},
    )
