"""Where raw objects live and how they are written: keys, Parquet bytes, partition windows."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepar_assets.domain.spec import DatasetSpec, periods
from deepar_assets.errors import DataValidationError

RAW_PREFIX = "raw"
METADATA_PREFIX = f"{RAW_PREFIX}/metadata"
LOG_PREFIX = f"{RAW_PREFIX}/_log"
DIGEST_CHARS = 16  # of the sha256 in an object's name


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    return buffer.getvalue()


def from_parquet(data: bytes) -> pd.DataFrame:
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[ns]")
    return frame


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- keys ---------------------------------------------------------------------------------------------


def table_prefix(name: str) -> str:
    return f"{RAW_PREFIX}/{name}"


def partition_object(name: str, key: str, digest: str) -> str:
    """The object holding one partition's rows of a target or related table: named by its
    content, so it is never overwritten."""
    return f"{table_prefix(name)}/{key}/{digest[:DIGEST_CHARS]}.parquet"


def metadata_object(name: str, digest: str) -> str:
    return f"{METADATA_PREFIX}/{name}/{digest[:DIGEST_CHARS]}.parquet"


def log_key(seq: int) -> str:
    return f"{LOG_PREFIX}/{seq:010d}.json"


def log_seq(key: str) -> int | None:
    """The sequence number of a log entry's key, None for any other key."""
    name = key.removeprefix(f"{LOG_PREFIX}/")
    if "/" in name or not name.endswith(".json") or not name[:-5].isdigit():
        return None
    return int(name[:-5])


# Legacy layout (before the log): objects overwritten in place.
def legacy_partition_object(name: str, key: str) -> str:
    return f"{table_prefix(name)}/{key}.parquet"


def legacy_ahead_object(name: str) -> str:
    return f"{RAW_PREFIX}/{name}_ahead.parquet"


def legacy_metadata_object(name: str) -> str:
    return f"{METADATA_PREFIX}/{name}.parquet"


# -- partitions ---------------------------------------------------------------------------------------


def time_column(spec: DatasetSpec, name: str) -> str:
    return spec.table(name).time.column  # type: ignore[union-attr]


def windows(spec: DatasetSpec, keys: Iterable[str]) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Partition key -> its window ``[start, end)``, in time order; a malformed key is an error."""
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


def split(frame: pd.DataFrame, column: str, wins: dict[str, tuple[pd.Timestamp, pd.Timestamp]]) -> dict:
    """Partition key -> the rows of ``frame`` whose ``column`` falls in that window (file order kept)."""
    starts = np.array([w[0].to_datetime64() for w in wins.values()], dtype="datetime64[ns]")
    ends = np.array([w[1].to_datetime64() for w in wins.values()], dtype="datetime64[ns]")
    times = frame[column].to_numpy(dtype="datetime64[ns]")
    slot = np.searchsorted(starts, times, side="right") - 1
    inside = slot >= 0
    inside[inside] = times[inside] < ends[slot[inside]]
    slot = np.where(inside, slot, -1)
    order = np.argsort(slot, kind="stable")
    bounds = np.searchsorted(slot[order], np.arange(len(starts) + 1))
    return {key: frame.iloc[order[bounds[i] : bounds[i + 1]]] for i, key in enumerate(wins)}


def partitions_of(spec: DatasetSpec, times: pd.Series) -> list[str]:
    """The partition keys holding the given timestamps, in time order."""
    alias = spec.partition_frequency
    starts = sorted({periods.partition_start(t, alias) for t in pd.DatetimeIndex(times.unique())})
    fmt = periods.frequency(alias).key_format
    return [start.strftime(fmt) for start in starts]


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of several frames of the same columns (empty ones are left out, so types stay)."""
    full = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(full, ignore_index=True) if len(full) > 1 else full[0].reset_index(drop=True)
