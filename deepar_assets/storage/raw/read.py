"""Reading raw storage: everything a reader sees comes from one manifest, the latest committed,
so it sees one whole load or the one before it, never a mix."""

from __future__ import annotations

import pandas as pd

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import DatasetSpec, periods
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.raw.layout import LOG_PREFIX, RAW_PREFIX, concat, log_key, table_prefix, windows
from deepar_assets.storage.raw.manifest import Manifest, latest, read_entry


class StoredRaw:
    """One committed state of raw storage (the latest unless a manifest is given)."""

    def __init__(self, store: ObjectStore, spec: DatasetSpec, manifest: Manifest | None = None):
        self.store, self.spec = store, spec
        self.manifest = latest(store, spec) if manifest is None else manifest

    @property
    def where(self) -> str:
        """The log entry this state was read from, for messages and metadata."""
        return self.store.uri(LOG_PREFIX if self.manifest.seq < 0 else log_key(self.manifest.seq))

    def partitions(self, table: str | None = None) -> list[str]:
        """The partition keys stored for a table (default: the target), in time order."""
        return list(windows(self.spec, self.manifest.partitions(table or self.spec.target.name)))

    def partition(self, table: str, key: str) -> pd.DataFrame | None:
        """The rows of one table stored for one partition, or None when there are none."""
        entry = self.manifest.partitions(table).get(key)
        return None if entry is None else read_entry(self.store, entry)

    def ahead(self, table: str) -> pd.DataFrame | None:
        """A related table's rows stored for the partitions after the target's last one (the
        covariates known ahead of the history), or None when there are none."""
        keys = self.partitions()
        last = periods.partition_window(keys[-1], self.spec.partition_frequency)[0] if keys else None
        later = [
            k
            for k in self.partitions(table)
            if last is None or periods.partition_window(k, self.spec.partition_frequency)[0] > last
        ]
        if not later:
            return None
        return self._rows(table, later)

    def _rows(self, table: str, keys: list[str]) -> pd.DataFrame:
        """The rows of stored partitions of a table, in the order of ``keys``."""
        parts = self.manifest.partitions(table)
        return concat([read_entry(self.store, parts[k]) for k in keys])

    def metadata(self, table: str) -> pd.DataFrame | None:
        """A stored metadata table, or None before the first load."""
        entry = self.manifest.metadata.get(table)
        return None if entry is None else read_entry(self.store, entry)

    def name(self, table: str, key: str | None = None) -> str:
        """Where a table's stored rows are, for messages."""
        return self.store.uri(f"{table_prefix(table)}/{key}" if key else table_prefix(table))

    def raw(self) -> RawData:
        """Every stored partition as one RawData (related tables: every partition stored,
        including those after the target's last one)."""
        spec = self.spec
        keys = self.partitions()
        if not keys:
            raise DataValidationError(
                f"no raw partitions are stored in {self.store.uri(table_prefix(spec.target.name))}; "
                "materialize raw_sales first"
            )

        related = {}
        for table in spec.related:
            if not self.manifest.partitions(table.name):
                raise DataValidationError(
                    f"{self.where}: no {table.name} rows are stored; materialize raw_sales again to store them"
                )
            related[table.name] = self._rows(table.name, self.partitions(table.name))
        metadata = {}
        for attributes in spec.metadata:
            frame = self.metadata(attributes.name)
            if frame is None:
                raise DataValidationError(
                    f"{self.where}: no {attributes.name} table is stored; materialize raw_sales again to store it"
                )
            metadata[attributes.name] = frame
        return RawData(
            spec=spec, target=self._rows(spec.target.name, keys), related=related, metadata=metadata,
            source=self.store.uri(RAW_PREFIX),
        )  # fmt: skip


def stored_partitions(store: ObjectStore, spec: DatasetSpec) -> list[str]:
    """The partition keys stored for the target table, in time order."""
    return StoredRaw(store, spec).partitions()


def read_partition(store: ObjectStore, spec: DatasetSpec, table: str, key: str) -> pd.DataFrame | None:
    """The rows of one table (target or related) stored for one partition, or None."""
    return StoredRaw(store, spec).partition(table, key)


def read_ahead(store: ObjectStore, spec: DatasetSpec, table: str) -> pd.DataFrame | None:
    """A related table's rows stored after the target's last partition, or None."""
    return StoredRaw(store, spec).ahead(table)


def read_metadata(store: ObjectStore, spec: DatasetSpec, table: str) -> pd.DataFrame | None:
    """A stored metadata table, or None before the first load."""
    return StoredRaw(store, spec).metadata(table)


def read_stored(store: ObjectStore, spec: DatasetSpec) -> RawData:
    """Every stored partition as one RawData, from the latest commit."""
    return StoredRaw(store, spec).raw()
