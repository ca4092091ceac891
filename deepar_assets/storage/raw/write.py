"""Writing raw storage: validate a load whole, write its objects, then commit one manifest.

A load replaces the partitions it asks for (target rows and, for a load from the source's files,
the related rows in their windows) and the metadata tables. Related rows of later partitions
(covariates known ahead) are merged into those stored, the load's rows winning per (keys, time):
rows a load does not carry are never dropped, and the related rows of a partition whose target
rows are stored change only when that partition is loaded again. The merge is made over the
latest commit, again if another writer commits first, so concurrent loads lose nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from deepar_assets.domain.landing import newest_rows
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading.validate import keys_in
from deepar_assets.domain.spec import DatasetSpec, periods
from deepar_assets.errors import DataValidationError, StorageError
from deepar_assets.storage.base import ObjectStore
from deepar_assets.storage.raw.layout import (
    concat,
    metadata_object,
    partitions_of,
    sha256,
    split,
    to_parquet,
    windows,
)
from deepar_assets.storage.raw.manifest import Entry, Manifest, clean, commit, latest, put_rows, read_entry


@dataclass(frozen=True)
class Gap:
    """Periods with no target rows between two that have some: ``missing`` periods after ``before``."""

    before: pd.Timestamp
    after: pd.Timestamp
    missing: int
    before_is_new: bool
    after_is_new: bool


def longest_new_gap(
    stored: Iterable[tuple[pd.Timestamp, pd.Timestamp]], new: Iterable[pd.Timestamp], alias: str
) -> Gap | None:
    """The longest run of periods without target rows that a load makes, among the stored
    partitions' (first, last) periods and the new periods; None when it makes none. Gaps that
    were stored already are not counted, nor what a load leaves of one it fills in part: they
    were accepted when stored."""
    olds = sorted(pd.Timestamp(t) for span in stored for t in span)
    points = sorted([(t, False) for t in olds] + [(pd.Timestamp(t), True) for t in new])
    found: Gap | None = None
    for (a, a_new), (b, b_new) in zip(points, points[1:], strict=False):
        if not (a_new or b_new) or b <= a:
            continue
        if olds and olds[0] <= a and b <= olds[-1]:  # inside a stored gap (no stored period between a and b)
            continue
        missing = int(periods.steps_between(a, pd.DatetimeIndex([b]), alias)[0]) - 1
        if missing > 0 and (found is None or missing > found.missing):
            found = Gap(a, b, missing, a_new, b_new)
    return found


def _gap_message(spec: DatasetSpec, gap: Gap, source: str) -> str:
    def fmt(stamp: pd.Timestamp) -> str:
        return periods.format_period(stamp, spec.frequency)

    key = periods.partition_key(gap.after if gap.after_is_new else gap.before, spec.partition_frequency)
    if gap.before_is_new and gap.after_is_new:
        what = (
            f"{source} has no {spec.target.name} rows for the {gap.missing} periods between {fmt(gap.before)} "
            f"and {fmt(gap.after)}"
        )
    elif gap.after_is_new:
        what = (
            f"partition {key}: its first period {fmt(gap.after)} comes {gap.missing} periods after the last "
            f"stored period {fmt(gap.before)}"
        )
    else:
        what = (
            f"partition {key}: its last period {fmt(gap.before)} comes {gap.missing} periods before the stored "
            f"period {fmt(gap.after)}"
        )
    return (
        f"{what}: more than evaluation.max_gap_periods ({spec.evaluation.max_gap_periods}) of the dataset spec "
        f"{spec.name}, so its series would be mostly missing values; check the partition asked for, or load it "
        "anyway with the run config allow_gap: true (ops: raw_sales: config: allow_gap: true), or raise "
        "evaluation.max_gap_periods"
    )


def _stored_spans(manifest: Manifest, spec: DatasetSpec, skip: set[str]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    spans = []
    for key, entry in manifest.partitions(spec.target.name).items():
        if key in skip or entry.rows == 0:
            continue
        if entry.first and entry.last:
            spans.append((pd.Timestamp(entry.first), pd.Timestamp(entry.last)))
        else:  # stored by an older version: the window's periods
            start, end = periods.partition_window(key, spec.partition_frequency)
            grid = periods.period_index(start, end, spec.frequency)
            grid = grid[(grid >= start) & (grid < end)]
            if len(grid):
                spans.append((grid[0], grid[-1]))
    return spans


def check_gap(
    manifest: Manifest, spec: DatasetSpec, loaded: Iterable[pd.Timestamp], keys: list[str], source: str
) -> None:
    """Refuse a load of the partitions ``keys`` (its target periods: ``loaded``) that would leave more
    than ``evaluation.max_gap_periods`` periods without target rows next to its periods (against what
    ``manifest`` stores, and inside the load)."""
    gap = longest_new_gap(_stored_spans(manifest, spec, set(keys)), loaded, spec.frequency)
    if gap is not None and gap.missing > spec.evaluation.max_gap_periods:
        raise DataValidationError(_gap_message(spec, gap, source))


def _validate(raw: RawData, wins: dict) -> tuple[dict[str, dict[str, pd.DataFrame]], list[str]]:
    """The load's rows per table and partition, and the partitions with no target rows; a
    partition outside the source's periods, or target rows without their related rows, refuse
    the whole load."""
    spec = raw.spec
    times = raw.target[spec.time]
    pieces = {spec.target.name: split(raw.target, spec.time, wins)}
    empty = [key for key, rows in pieces[spec.target.name].items() if rows.empty]
    first, last = (times.min(), times.max()) if len(times) else (None, None)
    outside = [k for k in empty if first is None or wins[k][1] <= first or wins[k][0] > last]
    if outside:
        have = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first is not None else "none"
        raise DataValidationError(
            f"{raw.source}: no {spec.target.name} rows for the partition(s) {', '.join(outside[:5])}"
            f"{' …' if len(outside) > 5 else ''}; the source has periods {have}"
        )
    for table in spec.related:
        pieces[table.name] = split(raw.related[table.name], table.time.column, wins)
        for key, rows in pieces[table.name].items():
            needed = pieces[spec.target.name][key][[*table.keys, spec.time]].drop_duplicates()
            have = rows[[*table.keys, table.time.column]].rename(columns={table.time.column: spec.time})
            missing = ~keys_in(needed, have, [*table.keys, spec.time])
            if missing.any():
                row = needed[missing].iloc[0]
                what = ", ".join(f"{k} {row[k]}" for k in table.keys) or "the period"
                raise DataValidationError(
                    f"{raw.source}: partition {key} has {spec.target.name} rows for {what} in "
                    f"{periods.format_period(row[spec.time], spec.frequency)} but no {table.name} row for them "
                    f"({int(missing.sum())} such)"
                )
    return pieces, empty


def _changes(raw: RawData, over: Manifest, store: ObjectStore, table: str, columns: list[str]) -> pd.DataFrame:
    """The related rows of a drop that are not stored as they are in ``over`` (the state it was
    completed with): what the drop changes, and nothing it merely carried over."""
    frame = raw.related[table]
    keys = [k for k in partitions_of(raw.spec, frame[columns[-1]]) if k in over.partitions(table)]
    if not keys or not len(frame):
        return frame
    stored = concat([read_entry(store, over.partitions(table)[k]) for k in keys]).drop_duplicates()
    try:
        seen = frame.merge(stored, how="left", on=list(frame.columns), indicator=True)["_merge"].to_numpy() == "both"
    except (ValueError, TypeError, KeyError):  # columns or types that do not compare: every row is a change
        return frame
    return frame[~seen]


def write_partitions(
    store: ObjectStore,
    raw: RawData,
    partition_keys: Iterable[str],
    *,
    over: Manifest | None = None,
    allow_gap: bool = False,
    load: dict | None = None,
) -> dict:
    """Store the given partitions of validated raw data and commit them as one load.

    Every partition asked for is checked before anything is written, so a bad request stores
    nothing. A partition with no target rows inside the source's periods is stored empty and
    reported (``empty_partitions``); one wholly outside them is an error. Unless ``allow_gap``,
    a load leaving more than the spec's ``evaluation.max_gap_periods`` periods without target
    rows next to its own is refused. ``load`` describes the load in the log entry.

    Related rows: a load from the source replaces them in its partitions and merges them into
    the later ones. A drop, whose related rows were completed with what ``over`` stores, merges
    only what it changes into what is stored when it commits, so that a concurrent drop's
    changes are kept."""
    spec = raw.spec
    wins = windows(spec, partition_keys)
    if not wins:
        raise DataValidationError("no partitions to write")
    keys = list(wins)
    pieces, empty = _validate(raw, wins)
    loaded = sorted({t for f in pieces[spec.target.name].values() for t in pd.DatetimeIndex(f[spec.time].unique())})
    source = raw.source or "the source"
    if not allow_gap:
        check_gap(latest(store, spec), spec, loaded, keys, source)

    # Objects that do not depend on what is stored: written once, before any commit attempt.
    mine: dict[str, dict[str, Entry]] = {
        spec.target.name: {
            k: put_rows(store, spec.target.name, k, f, spec.time) for k, f in pieces[spec.target.name].items()
        }
    }
    merges: dict[str, pd.DataFrame] = {}  # related table -> rows merged into the stored ones at the commit
    end = wins[keys[-1]][1]
    for table in spec.related:
        frame, column = raw.related[table.name], table.time.column
        if over is None:
            mine[table.name] = {k: put_rows(store, table.name, k, f) for k, f in pieces[table.name].items()}
            merges[table.name] = frame[frame[column].to_numpy() >= end.to_datetime64()]
        else:
            merges[table.name] = _changes(raw, over, store, table.name, [*table.keys, column])
    metadata = {}
    for attributes in spec.metadata:
        frame = raw.metadata[attributes.name]
        data = to_parquet(frame.reset_index(drop=True))
        digest = sha256(data)
        store.put_bytes(metadata_object(attributes.name, digest), data)
        metadata[attributes.name] = Entry(metadata_object(attributes.name, digest), len(frame), digest)

    def build(base: Manifest) -> Manifest:
        if not allow_gap:
            check_gap(base, spec, loaded, keys, source)
        tables = {name: dict(parts) for name, parts in base.tables.items()}
        for name, parts in mine.items():
            tables.setdefault(name, {}).update(parts)
        stored_target = set(tables[spec.target.name])
        for table in spec.related:
            columns, column = [*table.keys, table.time.column], table.time.column
            rows = merges[table.name]
            parts = split(rows, column, windows(spec, partitions_of(spec, rows[column])))
            # The related rows of a partition whose target rows are stored change when it is loaded.
            parts = {k: f for k, f in parts.items() if k not in stored_target or (over is not None and k in wins)}
            if over is not None:  # a drop's own partitions are stored even when it changes nothing in them
                parts.update({k: rows.iloc[:0] for k in keys if k not in parts})
            current = tables.setdefault(table.name, {})
            for key, part in parts.items():
                stored = current.get(key)
                merged = newest_rows(columns, None if stored is None else read_entry(store, stored), part)
                current[key] = put_rows(store, table.name, key, merged, stored=stored)
        return Manifest(tables=tables, metadata={**base.metadata, **metadata})

    described = {"source": raw.source, "partitions": len(keys), "first": keys[0], "last": keys[-1], **(load or {})}
    committed = commit(store, spec, build, described)
    if committed is None:  # build always returns a manifest
        raise StorageError(f"nothing was committed to {store.uri('raw')}")
    result: dict = {
        "partitions": len(keys),
        "rows": sum(len(f) for f in pieces[spec.target.name].values()),
        "first": keys[0],
        "last": keys[-1],
        "empty_partitions": empty,
        "commit": store.uri(committed.log_key),
        "commit_attempts": committed.attempts,
    }
    try:
        result["cleaned"] = clean(store, spec)
    except (StorageError, NotImplementedError) as exc:  # the load is committed; what is left is cleaned next time
        result["cleanup_failed"] = f"{type(exc).__name__}: {exc}"
    return result
