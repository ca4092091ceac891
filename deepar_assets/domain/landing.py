"""Drops in a landing zone: their names, which file versions are new, and one partition's rows
assembled and checked against the partition they claim to be (plain Python; no Dagster).

A drop is named by a partition and a table of the spec: ``<partition key>_<table>.csv[.gz]``
(or ``.parquet``), the key being the one the spec's time partitions use (the start of the
window, e.g. ``YYYY-MM-DD``). The target table's drop holds that partition's rows (every
timestamp in its window); a related table's drop holds rows of that partition and optionally
of later ones (known ahead). A metadata table may lie beside them as ``<table>.csv[.gz]``; it
then replaces the stored attributes when a partition is ingested. Which drops a spec takes is
its :class:`LandingLayout`.

Which files are new is decided against a cursor holding the version (size plus ETag, or size
plus modification time) of every file already handled, so that:

- each file version is handled once; a corrected upload (new size, ETag or modification time)
  is a new version, so its partition is ingested again (a restatement);
- a version that comes back (v1, then v2, then v1 again) is new again: it differs from the one
  handled last, and its run key holds the upload's time (S3's LastModified), so it is not the
  run key of the run that ingested it the first time (which Dagster would skip);
- nothing depends on the order of keys: a file whose key sorts before the ones already seen,
  or whose modification time is older, is still new if its version was never handled (the
  ``since_key`` pitfall of S3 listings that start after the last key seen);
- files that go away are forgotten, so the cursor stays as small as the zone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading import TableData, check_tables, layout, oddities
from deepar_assets.domain.reading.tables import Rows
from deepar_assets.domain.reading.validate import keys_in
from deepar_assets.domain.spec import DatasetSpec, periods
from deepar_assets.errors import DataValidationError

SUFFIXES = (".csv", ".csv.gz", ".parquet")
CURSOR_VERSION = 2

# Run tags naming the drop a run ingests (set by the sensor, read by raw_sales).
TAG_ZONE = "deepar/landing_zone"
TAG_PARTITION = "deepar/landing_partition"
TAG_FILES = "deepar/landing_files"  # JSON: table name → key of its drop
TAG_VERSIONS = "deepar/landing_versions"  # JSON: key → file version

_DROP = re.compile(r"\A(?P<key>[^_/]+)_(?P<table>[A-Za-z][A-Za-z0-9_]*)(?P<suffix>\.csv|\.csv\.gz|\.parquet)\Z")


class Listed(Protocol):
    """One file of a listing (``storage.base.ObjectInfo`` is one)."""

    @property
    def key(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def modified(self) -> float: ...
    @property
    def etag(self) -> str | None: ...


# -- the drops a spec takes --------------------------------------------------------------------


def _key_pattern(key_format: str) -> str:
    """``%Y-%m-%d`` → ``YYYY-MM-DD``: a key format as people read it."""
    for code, text in (("%Y", "YYYY"), ("%m", "MM"), ("%d", "DD"), ("%H", "HH"), ("%M", "MM")):
        key_format = key_format.replace(code, text)
    return key_format


def _window_start(alias: str) -> str:
    """What starts a partition window, in words."""
    text = periods.normalize(alias)
    if text.startswith("W-"):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(
            days=("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN").index(text[2:])
        )
        return f"a {day:%A}"
    return {"D": "a day", "h": "a whole hour"}.get(text, "the first day of a month")


@dataclass(frozen=True)
class LandingLayout:
    """The drops a spec's landing zone takes: one per partition and target or related table,
    and metadata tables beside them."""

    partitions: str  # the partition frequency (pandas alias)
    first: str  # the first partition key
    target: str  # the target table's name
    related: tuple[str, ...] = ()
    metadata: tuple[str, ...] = ()

    @classmethod
    def of(cls, spec: DatasetSpec) -> LandingLayout:
        return cls(
            partitions=spec.partition_frequency,
            first=periods.partition_key(pd.Timestamp(spec.start), spec.partition_frequency),
            target=spec.target.name,
            related=tuple(t.name for t in spec.related),
            metadata=tuple(t.name for t in spec.metadata),
        )

    @property
    def key_format(self) -> str:
        return periods.frequency(self.partitions).key_format

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables dropped per partition, target first."""
        return (self.target, *self.related)

    @property
    def key_pattern(self) -> str:
        return _key_pattern(self.key_format)

    def drop_format(self) -> str:
        """What a drop is called, for messages."""
        names = " or ".join(f"{self.key_pattern}_{t}.csv[.gz]" for t in self.tables)
        return (
            f"{names} ({self.key_pattern}: the partition's key, the start of its {self.partitions} window, "
            f"{_window_start(self.partitions)})"
        )

    def metadata_names(self) -> dict[str, str]:
        """File name → metadata table, for every name a metadata drop may have."""
        return {f"{table}{suffix}": table for table in self.metadata for suffix in SUFFIXES}

    def partition_key(self, stamp: pd.Timestamp) -> str:
        return periods.partition_key(stamp, self.partitions)

    def window(self, key: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        return periods.partition_window(key, self.partitions)


# -- names ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DropName:
    partition: str  # a partition key
    table: str  # the target or a related table
    suffix: str  # .csv, .csv.gz or .parquet


def drop_name(partition: str, table: str, suffix: str = ".csv") -> str:
    return f"{partition}_{table}{suffix}"


def is_ignored(key: str, layout: LandingLayout) -> bool:
    """Keys that are not drops and not worth a warning: hidden or temporary files (a writer's
    ``.name.partial``), anything in a sub-folder, and the metadata tables beside the drops."""
    name = key.rsplit("/", 1)[-1]
    return "/" in key or name.startswith(".") or name in layout.metadata_names()


def parse_drop_name(name: str, layout: LandingLayout) -> DropName:
    """``2012-10-26_sales.csv.gz`` → DropName; a name that is not a drop of the layout raises
    DataValidationError saying what is wrong and what a drop is called."""
    match = _DROP.match(name)
    expected = f"expected {layout.drop_format()}"
    if not match:
        raise DataValidationError(f"{name}: not a drop of a partition; {expected}")
    key, table = match["key"], match["table"]
    try:
        stamp = pd.Timestamp(pd.to_datetime(key, format=layout.key_format))
        written_so = stamp.strftime(layout.key_format) == key  # e.g. 2012-1-5: a key is written one way only
    except (ValueError, TypeError):
        written_so = False
    if not written_so:
        why = f"{key!r} is not a partition key as {layout.key_pattern}"
        raise DataValidationError(f"{name}: not a drop of a partition ({why}); {expected}")
    if table not in layout.tables:
        why = (
            f"{table} is a metadata table: drop it as {table}.csv[.gz], without a partition key"
            if table in layout.metadata
            else f"{table!r} is not a table of the dataset"
        )
        raise DataValidationError(f"{name}: not a drop of a partition ({why}); {expected}")
    start = layout.partition_key(stamp)
    if start != key:
        day = f"a {stamp:%A}, not" if layout.partitions.startswith("W-") else "not"
        raise DataValidationError(
            f"{name}: {key} is {day} the start of a partition ({layout.partitions} partitions start on "
            f"{_window_start(layout.partitions)}); the partition holding it is {start}"
        )
    return DropName(partition=key, table=table, suffix=match["suffix"])


def file_version(info: Listed) -> str:
    """``size:ETag`` on S3, ``size:modification time`` in a folder."""
    return f"{info.size}:{info.etag if info.etag else f'{info.modified:.6f}'}"


def upload_version(info: Listed) -> str:
    """One upload of a file: its version, and on S3 its LastModified too (the same content
    uploaded again is the same version, but another upload)."""
    return f"{file_version(info)}@{info.modified:.6f}" if info.etag else file_version(info)


def parse_file_version(version: str) -> tuple[int, str | None, float | None]:
    """(size, ETag, modification time) of a :func:`file_version`, one of the last two None: a
    modification time is written with six decimals (a '.'), an ETag never has a '.'."""
    size, _, rest = version.partition(":")
    try:
        if not rest or not size.isdigit():
            raise ValueError("expected size:ETag or size:modification time")
        if "." in rest:
            return int(size), None, float(rest)
        return int(size), rest, None
    except ValueError as exc:
        raise DataValidationError(f"file version {version!r}: {exc}") from None


# -- what a run ingests -----------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionDrop:
    """The files of one partition to ingest: its target table's drop and those of the related
    tables dropped with it (in the layout's order)."""

    partition: str
    target: Listed
    related: tuple[tuple[str, Listed], ...] = ()  # (table, file)

    @property
    def files(self) -> list[Listed]:
        return [self.target, *(info for _, info in self.related)]

    @property
    def run_key(self) -> str:
        """``<key>:<size>:<mtime>`` (folder) or ``<key>:<size>:<ETag>@<LastModified>`` (S3) of
        each file: the same uploads give the same key; a version uploaded again does not."""
        return "|".join(f"{info.key}:{upload_version(info)}" for info in self.files)

    def tags(self, zone_uri: str, layout: LandingLayout) -> dict[str, str]:
        files = {layout.target: self.target.key, **{table: info.key for table, info in self.related}}
        return {
            TAG_ZONE: zone_uri,
            TAG_PARTITION: self.partition,
            TAG_FILES: json.dumps(files, separators=(",", ":")),
            TAG_VERSIONS: json.dumps({info.key: file_version(info) for info in self.files}, separators=(",", ":")),
        }


@dataclass(frozen=True)
class DropRequest:
    """What a run was asked to ingest, read back from its tags."""

    partition: str
    target_key: str
    related_keys: dict[str, str] = field(default_factory=dict)  # related table → key of its drop
    zone: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [self.target_key, *self.related_keys.values()]


def _json_tag(tags: Mapping[str, str], name: str) -> dict[str, str]:
    try:
        value = json.loads(tags.get(name) or "{}")
        if not isinstance(value, dict):
            raise ValueError("not a mapping")
    except ValueError as exc:
        raise DataValidationError(f"run tag {name}={tags.get(name)!r}: expected a JSON mapping ({exc})") from None
    return {str(k): str(v) for k, v in value.items()}


def drop_request_from_tags(tags: Mapping[str, str], layout: LandingLayout) -> DropRequest | None:
    """None for a run without landing tags (the bulk history); else the drop it ingests."""
    if TAG_FILES not in tags:
        return None
    files = _json_tag(tags, TAG_FILES)
    partition = tags.get(TAG_PARTITION, "")
    if layout.target not in files:
        raise DataValidationError(f"run tag {TAG_FILES}={tags[TAG_FILES]} names no drop of the table {layout.target}")
    for table, key in files.items():
        name = parse_drop_name(key, layout)
        if name.table != table or name.partition != (partition or name.partition):
            raise DataValidationError(
                f"run tag {TAG_FILES}: {key} is not the drop of the table {table} for the partition {partition}"
            )
        partition = partition or name.partition
    versions = {key: version for key, version in _json_tag(tags, TAG_VERSIONS).items() if key in files.values()}
    return DropRequest(
        partition=partition,
        target_key=files[layout.target],
        related_keys={t: files[t] for t in layout.related if t in files},
        zone=tags.get(TAG_ZONE, ""),
        versions=versions,
    )


# -- which files are new ----------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    key: str
    reason: str


@dataclass
class DropPlan:
    requests: list[PartitionDrop]
    rejected: list[Notice]  # bad names, seen for the first time in this version: say so once
    waiting: list[Notice]  # not handled yet; looked at again next time
    cursor: str

    def summary(self) -> str:
        parts = [f"{len(self.requests)} partition(s) to ingest" if self.requests else "no new or changed drop"]
        if self.rejected:
            parts.append("rejected: " + "; ".join(n.reason for n in self.rejected))
        if self.waiting:
            parts.append("waiting: " + "; ".join(n.reason for n in self.waiting))
        return ", ".join(parts)


def read_cursor(cursor: str | None) -> dict[str, str]:
    """The versions already handled, by key (an empty or absent cursor: none)."""
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
        if data.get("v") not in (1, CURSOR_VERSION) or not isinstance(data.get("seen"), dict):
            raise ValueError("unexpected layout")
    except (ValueError, AttributeError) as exc:
        raise DataValidationError(
            f"landing sensor cursor {cursor[:200]!r} is not one this sensor wrote ({exc}); expected "
            f'{{"v": {CURSOR_VERSION}, "seen": {{key: version}}}}. Reset the sensor\'s cursor in the UI to look at '
            "every file again (runs already made for a file version are not made twice: run keys)"
        ) from None
    return {str(k): str(v) for k, v in data["seen"].items()}


def write_cursor(seen: Mapping[str, str]) -> str:
    return json.dumps({"v": CURSOR_VERSION, "seen": dict(sorted(seen.items()))}, separators=(",", ":"))


def plan_drops(
    listing: Iterable[Listed],
    cursor: str | None,
    layout: LandingLayout,
    *,
    last: str | None = None,
    now: float | None = None,
    settle_seconds: float = 0.0,
    max_requests: int = 100,
) -> DropPlan:
    """Decide which partitions to ingest from a full listing of the zone and the cursor.

    A partition is requested when one of its files is in a version the cursor does not hold
    and its target table's drop is there (a related drop alone waits for it). Partitions
    before the layout's first and bad names are rejected once per version; partitions after
    ``last`` (not complete yet), files modified less than ``settle_seconds`` before ``now``
    (perhaps still being written) and partitions with two files of the same table (``.csv``
    and ``.csv.gz``) wait, unrecorded. At most ``max_requests`` partitions, oldest first; the
    others are requested on the next look."""
    seen = read_cursor(cursor)
    files = [info for info in listing if not is_ignored(info.key, layout)]
    present = {info.key for info in files}
    seen = {key: version for key, version in seen.items() if key in present}
    rejected: list[Notice] = []
    waiting: list[Notice] = []
    by_partition: dict[str, dict[str, list[Listed]]] = {}
    for info in files:
        try:
            name = parse_drop_name(info.key, layout)
        except DataValidationError as exc:
            if seen.get(info.key) != file_version(info):
                rejected.append(Notice(info.key, str(exc)))
                seen[info.key] = file_version(info)
            continue
        by_partition.setdefault(name.partition, {}).setdefault(name.table, []).append(info)

    first = pd.Timestamp(pd.to_datetime(layout.first, format=layout.key_format))
    latest = pd.Timestamp(pd.to_datetime(last, format=layout.key_format)) if last is not None else None
    due: list[PartitionDrop] = []
    for key in sorted(by_partition, key=lambda k: pd.to_datetime(k, format=layout.key_format)):
        tables = by_partition[key]
        stamp = pd.Timestamp(pd.to_datetime(key, format=layout.key_format))
        partition_files = [info for infos in tables.values() for info in infos]
        if all(seen.get(info.key) == file_version(info) for info in partition_files):
            continue
        if stamp < first:
            for info in partition_files:
                if seen.get(info.key) != file_version(info):
                    rejected.append(
                        Notice(
                            info.key, f"{info.key}: the partition {key} is before the first partition {layout.first}"
                        )
                    )
                    seen[info.key] = file_version(info)
            continue
        if latest is not None and stamp > latest:
            waiting.append(
                Notice(
                    partition_files[0].key,
                    f"{key}: the partition is not complete yet (the latest complete partition is {last})",
                )
            )
            continue
        doubles = [infos for infos in tables.values() if len(infos) > 1]
        if doubles:
            names = " and ".join(info.key for info in doubles[0])
            waiting.append(
                Notice(doubles[0][0].key, f"{key}: both {names} exist; keep one so it is clear which is read")
            )
            continue
        if layout.target not in tables:
            lone = partition_files[0].key
            waiting.append(Notice(lone, f"{lone} waits for {key}_{layout.target}.csv[.gz]"))
            continue
        if now is not None and settle_seconds > 0:
            fresh = [info for info in partition_files if now - info.modified < settle_seconds]
            if fresh:
                waiting.append(Notice(fresh[0].key, f"{fresh[0].key} was modified less than {settle_seconds:g} s ago"))
                continue
        related = tuple((table, tables[table][0]) for table in layout.related if table in tables)
        due.append(PartitionDrop(key, tables[layout.target][0], related))

    requests = due[:max_requests]
    for drop in due[max_requests:]:
        waiting.append(
            Notice(drop.target.key, f"{drop.partition}: more than {max_requests} partitions at once; next look")
        )
    for drop in requests:
        for info in drop.files:
            seen[info.key] = file_version(info)
    return DropPlan(requests=requests, rejected=rejected, waiting=waiting, cursor=write_cursor(seen))


# -- one partition's rows ---------------------------------------------------------------------


def rows_in_partitions(raw: RawData, keys: Iterable[str]) -> RawData:
    """The rows of ``raw`` whose timestamp falls in the windows of the partition ``keys``
    (target and related tables); the metadata tables whole."""
    spec = raw.spec
    windows = [periods.partition_window(key, spec.partition_frequency) for key in keys]

    def inside(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        times = frame[column].to_numpy()
        mask = np.zeros(len(frame), dtype=bool)
        for start, end in windows:
            mask |= (times >= start.to_datetime64()) & (times < end.to_datetime64())
        return frame[mask]

    return RawData(
        spec=spec,
        target=inside(raw.target, spec.time),
        related={t.name: inside(raw.related[t.name], t.time.column) for t in spec.related if t.name in raw.related},
        metadata=dict(raw.metadata),
        source=raw.source,
        oddities=dict(raw.oddities),
    )


def _window_text(start: pd.Timestamp, end: pd.Timestamp, spec: DatasetSpec, fmt: str) -> str:
    """The periods of a window, as the time column writes them."""
    inside = [p for p in periods.period_index(start, end, spec.frequency) if start <= p < end]
    if len(inside) == 1:
        return inside[0].strftime(fmt)
    if not inside:
        return f"a time from {start.strftime(fmt)} to before {end.strftime(fmt)}"
    return f"a period from {inside[0].strftime(fmt)} to {inside[-1].strftime(fmt)}"


def _check_times(data: TableData, start: pd.Timestamp, end: pd.Timestamp | None, spec: DatasetSpec, partition: str):
    """Every row of a drop in its partition's window (``end`` None: or later, ahead)."""
    if data.layout.time is None:  # a metadata table: no timestamps to check
        return
    column = data.layout.column(data.layout.time)
    times = data.frame[column.name].to_numpy()
    bad = times < start.to_datetime64()
    if end is not None:
        bad |= times >= end.to_datetime64()
    if not bad.any():
        return
    first = int(np.flatnonzero(bad)[0])
    found = pd.Timestamp(times[first]).strftime(column.fmt)
    if end is None:
        expected = f"{start.strftime(column.fmt)} or later (the drop's partition {partition}, or later ones ahead)"
    else:
        expected = _window_text(start, end, spec, column.fmt)
    count = int(bad.sum())
    raise DataValidationError(
        f"{data.rows.where(first)}, column {column.name}: found {found}, expected {expected}: the file name says "
        f"which partition a drop holds" + (f" ({count} such rows)" if count > 1 else "")
    )


def newest_rows(columns: list[str], *frames: pd.DataFrame | None) -> pd.DataFrame | None:
    """Rows from several sources, a later source winning per ``columns`` (keys and time)."""
    parts = [f for f in frames if f is not None and len(f)]
    if not parts:
        present = [f for f in frames if f is not None]
        return present[0].iloc[:0] if present else None
    combined = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return combined.drop_duplicates(columns, keep="last").sort_values(columns, ignore_index=True)


def _times(frame: pd.DataFrame | None, column: str, start=None, end=None) -> pd.DataFrame | None:
    if frame is None:
        return None
    times = frame[column].to_numpy()
    mask = np.ones(len(frame), dtype=bool)
    if start is not None:
        mask &= times >= start.to_datetime64()
    if end is not None:
        mask &= times < end.to_datetime64()
    return frame[mask]


def assemble_partition(
    spec: DatasetSpec,
    partition: str,
    target: TableData,
    metadata: Mapping[str, TableData],
    *,
    related_drops: Mapping[str, TableData],
    stored_window: Mapping[str, pd.DataFrame | None],
    stored_ahead: Mapping[str, pd.DataFrame | None],
    stored_names: Mapping[str, str],
) -> RawData:
    """One partition of validated rows, ready to store: the target drop (every row in the
    partition's window), each related table's rows in the window (the drop's over those stored
    for the partition before: its own object, else the rows stored ahead) and after it (the
    drop's later rows over those stored ahead), and the metadata tables (dropped beside, or
    stored); then the same cross-table checks as a whole source, for the series of the drop.

    ``stored_names`` says where each related table's stored rows are, for the messages.
    Related rows for later partitions that are already stored do not change them: those
    partitions change when they are ingested again."""
    start, end = periods.partition_window(partition, spec.partition_frequency)
    _check_times(target, start, end, spec, partition)
    for data in related_drops.values():
        _check_times(data, start, None, spec, partition)
    series = target.frame
    related: dict[str, pd.DataFrame] = {}
    checked: list[TableData] = []
    for table in spec.related:
        time, columns = table.time.column, [*table.keys, table.time.column]
        drop = related_drops.get(table.name)
        ahead = stored_ahead.get(table.name)
        earlier = stored_window.get(table.name)
        if earlier is None:
            earlier = _times(ahead, time, start, end)
        window = newest_rows(columns, earlier, _times(drop.frame if drop else None, time, start, end))
        later = newest_rows(columns, _times(ahead, time, end), _times(drop.frame if drop else None, time, end))
        frames = [f for f in (window, later) if f is not None]
        if frames:
            rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        else:
            empty = layout(spec, table)
            rows = pd.DataFrame(
                {c: pd.Series(dtype=series[c].dtype if c in series else "float64") for c in empty.names}
            )
        related[table.name] = rows.reset_index(drop=True)
        stored = stored_names.get(table.name, f"the stored {table.name} rows")
        if drop is None:
            name = f"the stored {table.name} rows ({stored}; there is no {partition}_{table.name} drop)"
        else:
            name = f"{drop.rows.name} (over the stored {table.name} rows, {stored})"
        mine = rows[keys_in(rows, series, list(table.keys))] if table.keys else rows
        checked.append(TableData(layout(spec, table), mine, Rows([(name, 0, "parquet")])))
    described = []
    for attributes in spec.metadata:
        data = metadata[attributes.name]
        mine = data.frame[keys_in(data.frame, series, list(attributes.keys))]
        described.append(TableData(data.layout, mine, data.rows))
    check_tables(target, checked, described)
    raw = RawData(
        spec=spec,
        target=target.frame,
        related=related,
        metadata={name: data.frame for name, data in metadata.items()},
        source=target.rows.name,
    )
    raw.oddities = oddities(rows_in_partitions(raw, [partition]))
    return raw
