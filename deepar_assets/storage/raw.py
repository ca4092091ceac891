"""Validated raw data, stored columnar: one Parquet object per time partition and table.

Layout under the store (table names are the spec's):

- ``raw/<target>/<partition key>.parquet`` and ``raw/<related>/<partition key>.parquet``: the
  rows whose timestamp falls in the partition's window (a partition re-ingested replaces its
  objects, so rows are never duplicated);
- ``raw/<related>_ahead.parquet``: the related rows after the last stored partition (the
  covariates the source knows ahead of the history, which forecasts need);
- ``raw/metadata/<metadata>.parquet``: the static attributes, replaced by each ingest.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading.validate import keys_in
from deepar_assets.domain.spec import DatasetSpec, periods
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.base import ObjectStore

RAW_PREFIX = "raw"
METADATA_PREFIX = f"{RAW_PREFIX}/metadata"


def _to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    return buffer.getvalue()


def _from_parquet(data: bytes) -> pd.DataFrame:
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[ns]")
    return frame


# -- keys ---------------------------------------------------------------------------------------------


def table_prefix(name: str) -> str:
    return f"{RAW_PREFIX}/{name}"


def partition_object(name: str, key: str) -> str:
    """The object of one partition of a target or related table."""
    return f"{table_prefix(name)}/{key}.parquet"


def ahead_object(name: str) -> str:
    """The object of a related table's rows after the last stored partition."""
    return f"{RAW_PREFIX}/{name}_ahead.parquet"


def metadata_object(name: str) -> str:
    return f"{METADATA_PREFIX}/{name}.parquet"


def _time(spec: DatasetSpec, name: str) -> str:
    return spec.table(name).time.column  # type: ignore[union-attr]


def _windows(spec: DatasetSpec, keys: Iterable[str]) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    out = {}
    for key in keys:
        try:
            out[key] = periods.partition_window(key, spec.partition_frequency)
        except ValueError:
            fmt = periods.frequency(spec.partition_frequency).key_format
            raise DataValidationError(
                f"partition key {key!r}: expected the start of a {spec.partition_frequency} partition as {fmt}"
            ) from None
    return dict(sorted(out.items(), key=lambda item: item[1][0]))


def _split(frame: pd.DataFrame, column: str, windows: dict[str, tuple[pd.Timestamp, pd.Timestamp]]) -> dict:
    """Partition key → the rows of ``frame`` whose ``column`` falls in that window (file order kept)."""
    starts = np.array([w[0].to_datetime64() for w in windows.values()], dtype="datetime64[ns]")
    ends = np.array([w[1].to_datetime64() for w in windows.values()], dtype="datetime64[ns]")
    times = frame[column].to_numpy(dtype="datetime64[ns]")
    slot = np.searchsorted(starts, times, side="right") - 1
    inside = slot >= 0
    inside[inside] = times[inside] < ends[slot[inside]]
    slot = np.where(inside, slot, -1)
    order = np.argsort(slot, kind="stable")
    bounds = np.searchsorted(slot[order], np.arange(len(starts) + 1))
    return {key: frame.iloc[order[bounds[i] : bounds[i + 1]]] for i, key in enumerate(windows)}


# -- writing ----------------------------------------------------------------------------------------


def write_partitions(store: ObjectStore, raw: RawData, partition_keys: Iterable[str]) -> dict[str, int | str]:
    """Store the given partitions of validated raw data, one object per partition and table,
    the related rows ahead of the last stored partition, and the metadata tables.

    Every partition asked for must have target rows, and each related table a row for every
    (key, period) the target has in it; that is checked for all partitions before anything is
    written, so a bad request stores nothing."""
    spec = raw.spec
    windows = _windows(spec, partition_keys)
    if not windows:
        raise DataValidationError("no partitions to write")
    times = raw.target[spec.time]
    pieces = {spec.target.name: _split(raw.target, spec.time, windows)}
    empty = [key for key, rows in pieces[spec.target.name].items() if rows.empty]
    if empty:
        have = f"{times.min():%Y-%m-%d} to {times.max():%Y-%m-%d}" if len(times) else "none"
        raise DataValidationError(
            f"{raw.source}: no {spec.target.name} rows for the partition(s) {', '.join(empty[:5])}"
            f"{' …' if len(empty) > 5 else ''}; the source has periods {have}"
        )
    for table in spec.related:
        pieces[table.name] = _split(raw.related[table.name], table.time.column, windows)
        for key, rows in pieces[table.name].items():
            needed = pieces[spec.target.name][key][[*table.keys, spec.time]].drop_duplicates()
            have = rows[[*table.keys, table.time.column]].rename(columns={table.time.column: spec.time})
            missing = ~keys_in(needed, have, [*table.keys, spec.time])
            if missing.any():
                first = needed[missing].iloc[0]
                what = ", ".join(f"{k} {first[k]}" for k in table.keys) or "the period"
                raise DataValidationError(
                    f"{raw.source}: partition {key} has {spec.target.name} rows for {what} in "
                    f"{periods.format_period(first[spec.time], spec.frequency)} but no {table.name} row for them "
                    f"({int(missing.sum())} such)"
                )
    rows_written = 0
    for name, parts in pieces.items():
        for key, frame in parts.items():
            store.put_bytes(partition_object(name, key), _to_parquet(frame))
            if name == spec.target.name:
                rows_written += len(frame)
    stored = set(stored_partitions(store, spec)) | set(windows)
    last_end = max(_windows(spec, stored).values(), key=lambda w: w[1])[1]
    for table in spec.related:
        frame = raw.related[table.name]
        ahead = frame[frame[table.time.column].to_numpy() >= last_end.to_datetime64()]
        store.put_bytes(ahead_object(table.name), _to_parquet(ahead))
    for table in spec.metadata:
        store.put_bytes(metadata_object(table.name), _to_parquet(raw.metadata[table.name]))
    keys = list(windows)
    return {"partitions": len(keys), "rows": rows_written, "first": keys[0], "last": keys[-1]}


# -- reading ----------------------------------------------------------------------------------------


def stored_partitions(store: ObjectStore, spec: DatasetSpec) -> list[str]:
    """The partition keys stored for the target table, in time order."""
    prefix = f"{table_prefix(spec.target.name)}/"
    keys = [key.removeprefix(prefix).removesuffix(".parquet") for key in store.list_keys(prefix)]
    keys = [k for k in keys if "/" not in k]
    return list(_windows(spec, keys))


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of several frames of the same columns (empty ones are left out, so types stay)."""
    full = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(full, ignore_index=True) if len(full) > 1 else full[0].reset_index(drop=True)


def _optional(store: ObjectStore, key: str) -> pd.DataFrame | None:
    return _from_parquet(store.get_bytes(key)) if store.exists(key) else None


def read_partition(store: ObjectStore, spec: DatasetSpec, table: str, key: str) -> pd.DataFrame | None:
    """The rows of one table (target or related) stored for one partition, or None when the
    partition was never ingested."""
    return _optional(store, partition_object(table, key))


def read_ahead(store: ObjectStore, spec: DatasetSpec, table: str) -> pd.DataFrame | None:
    """A related table's rows stored ahead of the last stored partition, or None."""
    frame = _optional(store, ahead_object(table))
    if frame is None:
        return None
    keys = stored_partitions(store, spec)
    if keys:
        end = periods.partition_window(keys[-1], spec.partition_frequency)[1]
        frame = frame[frame[_time(spec, table)].to_numpy() >= end.to_datetime64()].reset_index(drop=True)
    return frame


def read_metadata(store: ObjectStore, spec: DatasetSpec, table: str) -> pd.DataFrame | None:
    """A stored metadata table, or None before the first ingest."""
    return _optional(store, metadata_object(table))


def read_stored(store: ObjectStore, spec: DatasetSpec) -> RawData:
    """Every stored partition as one RawData (related tables: the stored partitions plus the
    rows ahead of them)."""
    keys = stored_partitions(store, spec)
    if not keys:
        raise DataValidationError(
            f"no raw partitions are stored in {store.uri(table_prefix(spec.target.name))}; materialize raw_sales first"
        )

    def concat(name: str) -> pd.DataFrame:
        return _concat([_from_parquet(store.get_bytes(partition_object(name, k))) for k in keys])

    target = concat(spec.target.name)
    related = {}
    for table in spec.related:
        frames = [concat(table.name)]
        ahead = read_ahead(store, spec, table.name)
        if ahead is not None:
            frames.append(ahead)
        related[table.name] = _concat(frames)
    metadata = {}
    for table in spec.metadata:
        frame = read_metadata(store, spec, table.name)
        if frame is None:
            raise DataValidationError(
                f"{store.uri(metadata_object(table.name))} does not exist; materialize raw_sales again to store it"
            )
        metadata[table.name] = frame
    return RawData(spec=spec, target=target, related=related, metadata=metadata, source=store.uri(RAW_PREFIX))
