"""The raw store's log: each commit is a new entry ``raw/_log/<seq>.json`` holding the whole
manifest (per table, partition key -> object), created only if absent; readers read the latest.

A writer writes its objects first (content-addressed: never overwritten), then reads the latest
entry ``n``, builds its manifest over it and creates ``n + 1`` with the store's create-only
write. When another writer created ``n + 1`` first, it reads again and rebuilds, so no
concurrent update is lost. Objects of loads that never committed (a killed run) are deleted by a
later commit once they are older than a grace period; only the last few entries are kept.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pandas as pd

from deepar_assets.domain.spec import DatasetSpec, spec_hash
from deepar_assets.errors import ObjectNotFoundError, StorageError
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.raw.layout import (
    DIGEST_CHARS,
    LOG_PREFIX,
    RAW_PREFIX,
    from_parquet,
    legacy_ahead_object,
    legacy_metadata_object,
    legacy_partition_object,
    log_key,
    log_seq,
    partition_object,
    partitions_of,
    sha256,
    split,
    table_prefix,
    time_column,
    to_parquet,
    windows,
)

FORMAT = 1
COMMIT_ATTEMPTS = 10
KEEP_LOG_ENTRIES = 10  # the latest and the ones before it, for readers still reading them
GRACE_SECONDS = 3600.0  # an unreferenced object younger than this may belong to a load not yet committed


@dataclass(frozen=True)
class Entry:
    """One stored object: its key, rows, sha256, and (target partitions) first and last period."""

    key: str
    rows: int | None = None
    sha256: str | None = None
    first: str | None = None
    last: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Manifest:
    """What is stored: per target and related table, partition key -> Entry; per metadata
    table, an Entry. ``seq`` is the log entry it was read from (-1: nothing committed yet)."""

    seq: int = -1
    tables: dict[str, dict[str, Entry]] = field(default_factory=dict)
    metadata: dict[str, Entry] = field(default_factory=dict)
    load: dict = field(default_factory=dict)

    def partitions(self, table: str) -> dict[str, Entry]:
        return self.tables.get(table, {})

    def referenced(self) -> set[str]:
        keys = {e.key for parts in self.tables.values() for e in parts.values()}
        return keys | {e.key for e in self.metadata.values()}

    def to_bytes(self, spec: DatasetSpec) -> bytes:
        document = {
            "format": FORMAT,
            "seq": self.seq,
            "spec": spec_hash(spec),
            "load": self.load,
            "tables": {
                name: {key: entry.to_json() for key, entry in sorted(parts.items())}
                for name, parts in sorted(self.tables.items())
            },
            "metadata": {name: entry.to_json() for name, entry in sorted(self.metadata.items())},
        }
        return json.dumps(document, indent=1, sort_keys=True, default=str).encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Manifest:
        try:
            document = json.loads(data)
            if document.get("format") != FORMAT:
                raise ValueError(f"format {document.get('format')!r}, expected {FORMAT}")
            return cls(
                seq=int(document["seq"]),
                tables={
                    name: {key: Entry(**entry) for key, entry in parts.items()}
                    for name, parts in document["tables"].items()
                },
                metadata={name: Entry(**entry) for name, entry in document["metadata"].items()},
                load=dict(document.get("load", {})),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"{where}: not a raw storage log entry ({type(exc).__name__}: {exc}); it was written by another "
                "program or by hand: remove it (the entry before it is then the latest), or re-materialize raw_sales"
            ) from None


def _log_seqs(store: ObjectStore) -> list[int]:
    return sorted(s for s in (log_seq(k) for k in store.list_keys(f"{LOG_PREFIX}/")) if s is not None)


def latest(store: ObjectStore, spec: DatasetSpec) -> Manifest:
    """The latest committed manifest; storage written before the log is imported as the first
    entry (once); an empty store gives an empty manifest."""
    seqs = _log_seqs(store)
    if seqs:
        key = log_key(seqs[-1])
        return Manifest.from_bytes(store.get_bytes(key), store.uri(key))
    legacy = _legacy(store, spec)
    if legacy is None:
        return Manifest()
    commit(store, spec, lambda base: legacy if base.seq < 0 else None, {"source": "legacy layout, imported"})
    return latest(store, spec)


def _legacy(store: ObjectStore, spec: DatasetSpec) -> Manifest | None:
    """The objects of the layout before the log (``raw/<table>/<key>.parquet``, ``raw/<related>_ahead.parquet``,
    ``raw/metadata/<table>.parquet``) as a manifest; the rows ahead are split into partitions and written as
    objects of their own. None when there are none."""
    keys = set(store.list_keys(f"{RAW_PREFIX}/"))
    manifest = Manifest(load={"source": "legacy layout"})
    for table in [spec.target, *spec.related]:
        prefix = f"{table_prefix(table.name)}/"
        found = [k.removeprefix(prefix).removesuffix(".parquet") for k in keys if k.startswith(prefix)]
        parts = [k for k in found if "/" not in k and legacy_partition_object(table.name, k) in keys]
        manifest.tables[table.name] = {k: Entry(legacy_partition_object(table.name, k)) for k in windows(spec, parts)}
    target_keys = list(manifest.partitions(spec.target.name))
    if not target_keys:
        return None
    end = windows(spec, target_keys[-1:])[target_keys[-1]][1]
    for table in spec.related:
        key = legacy_ahead_object(table.name)
        if key not in keys:
            continue
        frame = from_parquet(store.get_bytes(key))
        column = time_column(spec, table.name)
        frame = frame[frame[column].to_numpy() >= end.to_datetime64()]
        for part, rows in split(frame, column, windows(spec, partitions_of(spec, frame[column]))).items():
            manifest.tables[table.name][part] = put_rows(store, table.name, part, rows)
    for table in spec.metadata:
        key = legacy_metadata_object(table.name)
        if key in keys:
            manifest.metadata[table.name] = Entry(key)
    return manifest


def put_rows(
    store: ObjectStore,
    table: str,
    partition: str,
    frame: pd.DataFrame,
    column: str | None = None,
    stored: Entry | None = None,
) -> Entry:
    """Write one partition's rows as a content-addressed object and return its entry (with its
    first and last ``column`` value, if given). Rows equal to the ``stored`` entry's are not written again;
    an object that exists otherwise is written again, which refreshes its age for the cleanup."""
    data = to_parquet(frame.reset_index(drop=True))
    digest = sha256(data)
    if stored is not None and stored.sha256 == digest:
        return stored
    key = partition_object(table, partition, digest)
    store.put_bytes(key, data)
    first = last = None
    if column is not None and len(frame):
        first, last = (pd.Timestamp(t).isoformat() for t in (frame[column].min(), frame[column].max()))
    return Entry(key, len(frame), digest, first, last)


def read_entry(store: ObjectStore, entry: Entry) -> pd.DataFrame:
    return from_parquet(store.get_bytes(entry.key))


@dataclass(frozen=True)
class Committed:
    """A commit: the manifest as stored, its log key, what the cleanup removed."""

    manifest: Manifest
    log_key: str
    attempts: int
    cleaned: dict = field(default_factory=dict)


def commit(
    store: ObjectStore, spec: DatasetSpec, build: Callable[[Manifest], Manifest | None], load: dict
) -> Committed | None:
    """Create the next log entry with the manifest ``build`` makes over the latest one (called
    again over the newer one when another writer commits first). ``build`` returning None
    commits nothing. Raises StorageError when other writers win every attempt."""
    token = uuid.uuid4().hex
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        seqs = _log_seqs(store)
        base = (
            Manifest.from_bytes(store.get_bytes(log_key(seqs[-1])), store.uri(log_key(seqs[-1])))
            if seqs
            else Manifest()
        )
        built = build(base)
        if built is None:
            return None
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        manifest = replace(built, seq=base.seq + 1, load={**load, "committed": stamp, "writer": token})
        data = manifest.to_bytes(spec)
        key = log_key(manifest.seq)
        if store.put_if_absent(key, data) or _is(store, key, data):
            return Committed(manifest, key, attempt)
        time.sleep(random.uniform(0.05, 0.25) * attempt)  # another writer committed first: merge over theirs
    raise StorageError(
        f"could not commit to {store.uri(LOG_PREFIX)}: other writers committed first {COMMIT_ATTEMPTS} times in a "
        "row; retry the run (its objects are written; the next commit cleans up what is not used)"
    )


def _is(store: ObjectStore, key: str, data: bytes) -> bool:
    """Whether ``key`` holds ``data`` (a create whose answer was lost, then retried, reads as refused)."""
    try:
        return store.get_bytes(key) == data
    except ObjectNotFoundError:
        return False


def clean(store: ObjectStore, spec: DatasetSpec, now: float | None = None) -> dict:
    """Delete log entries before the last KEEP_LOG_ENTRIES, and the content-addressed objects none
    of the kept entries references that are older than GRACE_SECONDS (a load killed before its
    commit; a younger one may be a load still running). Returns what was deleted."""
    now = time.time() if now is None else now
    seqs = _log_seqs(store)
    old, kept = seqs[:-KEEP_LOG_ENTRIES], seqs[-KEEP_LOG_ENTRIES:]
    referenced: set[str] = set()
    for seq in kept:
        try:
            referenced |= Manifest.from_bytes(store.get_bytes(log_key(seq)), store.uri(log_key(seq))).referenced()
        except ObjectNotFoundError:  # removed by a concurrent cleanup: its objects are older ones
            continue
    deleted = []
    for info in store.list_info(f"{RAW_PREFIX}/"):
        if info.key in referenced or info.key.startswith(f"{LOG_PREFIX}/") or not _content_addressed(info.key):
            continue
        if now - info.modified >= GRACE_SECONDS:
            store.delete(info.key)
            deleted.append(info.key)
    for seq in old:
        store.delete(log_key(seq))
    return {"objects_deleted": len(deleted), "log_entries_deleted": len(old), "deleted": deleted[:20]}


def _content_addressed(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    digest = name.removesuffix(".parquet")
    return name.endswith(".parquet") and len(digest) == DIGEST_CHARS and all(c in "0123456789abcdef" for c in digest)
