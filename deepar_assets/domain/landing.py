"""Weekly drops in a landing zone: their names, which file versions are new, and one week's
rows assembled and checked against the week they claim to be (plain Python; no Dagster).

A drop is ``YYYY-MM-DD_sales.csv[.gz]`` (Kaggle ``train.csv`` columns, rows of that Friday's
week) and, when the week's features are new, ``YYYY-MM-DD_features.csv[.gz]`` (Kaggle
``features.csv`` columns: rows of that week, and optionally of weeks ahead). A ``stores.csv``
(or ``.csv.gz``) beside them, if present, gives the store attributes.

Which files are new is decided against a cursor holding the version (size plus ETag, or size
plus modification time) of every file already handled, so that:

- each file version is handled once; a corrected upload (new size, ETag or modification time)
  is a new version, so its week is ingested again (a restatement);
- nothing depends on the order of keys: a file whose key sorts before the ones already seen,
  or whose modification time is older, is still new if its version was never handled (the
  ``since_key`` pitfall of S3 listings that start after the last key seen);
- files that go away are forgotten, so the cursor stays as small as the zone.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deepar_assets.domain.kaggle import FEATURES_COLUMNS, MARKDOWNS, RawData, check_consistency
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.base import ObjectInfo

SALES = "sales"
FEATURES = "features"
STORES_NAMES = ("stores.csv", "stores.csv.gz")
DROP_FORMAT = "YYYY-MM-DD_sales.csv[.gz] or YYYY-MM-DD_features.csv[.gz] (YYYY-MM-DD: the week's Friday)"

_DROP = re.compile(r"^(?P<week>[^_]+)_(?P<kind>[^.]+)\.csv(?P<gz>\.gz)?$")
_FRIDAY = 4
CURSOR_VERSION = 1

# Run tags naming the drop a run ingests (set by the sensor, read by raw_sales).
TAG_ZONE = "deepar/landing_zone"
TAG_WEEK = "deepar/landing_week"
TAG_SALES = "deepar/landing_sales"
TAG_SALES_VERSION = "deepar/landing_sales_version"
TAG_FEATURES = "deepar/landing_features"
TAG_FEATURES_VERSION = "deepar/landing_features_version"


# -- names ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DropName:
    week: str  # YYYY-MM-DD, a Friday
    kind: str  # sales or features
    compressed: bool


def drop_name(week: str, kind: str, compressed: bool = False) -> str:
    return f"{week}_{kind}.csv{'.gz' if compressed else ''}"


def is_ignored(key: str) -> bool:
    """Keys that are not drops and not worth a warning: hidden or temporary files (a writer's
    ``.name.partial``), anything in a sub-folder, and the optional ``stores.csv``."""
    name = key.rsplit("/", 1)[-1]
    return "/" in key or name.startswith(".") or name in STORES_NAMES


def parse_drop_name(name: str) -> DropName:
    """``2012-10-26_sales.csv.gz`` → DropName; a name that is not a drop raises
    DataValidationError saying what is wrong and what a drop is called."""
    match = _DROP.match(name)
    if not match or match["kind"] not in (SALES, FEATURES):
        raise DataValidationError(f"{name}: not a weekly drop; expected {DROP_FORMAT}")
    week = match["week"]
    try:
        day = dt.date.fromisoformat(week) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", week) else None
    except ValueError:
        day = None
    if day is None:
        raise DataValidationError(f"{name}: {week!r} is not a date as YYYY-MM-DD; expected {DROP_FORMAT}")
    if day.weekday() != _FRIDAY:
        raise DataValidationError(
            f"{name}: {week} is a {day:%A}; expected the Friday that names the week (Walmart weeks are Fridays)"
        )
    return DropName(week=week, kind=match["kind"], compressed=bool(match["gz"]))


def file_version(info: ObjectInfo) -> str:
    """``size:ETag`` on S3, ``size:modification time`` in a folder."""
    return f"{info.size}:{info.etag if info.etag else f'{info.modified:.6f}'}"


# -- what a run ingests -----------------------------------------------------------------------


@dataclass(frozen=True)
class WeekDrop:
    """The files of one week to ingest: its sales drop and, if there is one, its features drop."""

    week: str
    sales: ObjectInfo
    features: ObjectInfo | None = None

    @property
    def files(self) -> list[ObjectInfo]:
        return [self.sales] + ([self.features] if self.features else [])

    @property
    def run_key(self) -> str:
        """``<key>:<size>:<ETag or mtime>`` of each file: the same files give the same key."""
        return "|".join(f"{info.key}:{file_version(info)}" for info in self.files)

    def tags(self, zone_uri: str) -> dict[str, str]:
        tags = {
            TAG_ZONE: zone_uri,
            TAG_WEEK: self.week,
            TAG_SALES: self.sales.key,
            TAG_SALES_VERSION: file_version(self.sales),
        }
        if self.features:
            tags[TAG_FEATURES] = self.features.key
            tags[TAG_FEATURES_VERSION] = file_version(self.features)
        return tags


@dataclass(frozen=True)
class DropRequest:
    """What a run was asked to ingest, read back from its tags."""

    week: str
    sales_key: str
    features_key: str | None = None
    zone: str = ""
    versions: dict[str, str] = field(default_factory=dict)


def drop_request_from_tags(tags: Mapping[str, str]) -> DropRequest | None:
    """None for a run without landing tags (the bulk history); else the drop it ingests."""
    if TAG_SALES not in tags:
        return None
    sales = tags[TAG_SALES]
    week = tags.get(TAG_WEEK) or parse_drop_name(sales).week
    if parse_drop_name(sales).week != week:
        raise DataValidationError(f"run tag {TAG_SALES}={sales} is not a drop of the week {week}")
    features = tags.get(TAG_FEATURES) or None
    versions = {
        key: tags[tag]
        for key, tag in ((sales, TAG_SALES_VERSION), (features, TAG_FEATURES_VERSION))
        if key and tag in tags
    }
    return DropRequest(
        week=week, sales_key=sales, features_key=features, zone=tags.get(TAG_ZONE, ""), versions=versions
    )


# -- which files are new ----------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    key: str
    reason: str


@dataclass
class DropPlan:
    requests: list[WeekDrop]
    rejected: list[Notice]  # bad names, seen for the first time in this version: say so once
    waiting: list[Notice]  # not handled yet; looked at again next time
    cursor: str

    def summary(self) -> str:
        parts = [f"{len(self.requests)} week(s) to ingest" if self.requests else "no new or changed drop"]
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
        if data.get("v") != CURSOR_VERSION or not isinstance(data.get("seen"), dict):
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
    listing: Iterable[ObjectInfo],
    cursor: str | None,
    *,
    first_week: str,
    last_week: str | None = None,
    now: float | None = None,
    settle_seconds: float = 0.0,
    max_requests: int = 100,
) -> DropPlan:
    """Decide which weeks to ingest from a full listing of the zone and the cursor.

    A week is requested when one of its files is in a version the cursor does not hold and its
    sales drop is there (a features drop alone waits for it). Weeks before ``first_week`` and
    bad names are rejected once per version; weeks after ``last_week`` (not yet a partition),
    files modified less than ``settle_seconds`` before ``now`` (perhaps still being written)
    and weeks with both a ``.csv`` and a ``.csv.gz`` of the same drop wait, unrecorded. At most
    ``max_requests`` weeks, oldest first; the others are requested on the next look."""
    seen = read_cursor(cursor)
    files = [info for info in listing if not is_ignored(info.key)]
    present = {info.key for info in files}
    seen = {key: version for key, version in seen.items() if key in present}
    rejected: list[Notice] = []
    waiting: list[Notice] = []
    by_week: dict[str, dict[str, list[ObjectInfo]]] = {}
    for info in files:
        try:
            name = parse_drop_name(info.key)
        except DataValidationError as exc:
            if seen.get(info.key) != file_version(info):
                rejected.append(Notice(info.key, str(exc)))
                seen[info.key] = file_version(info)
            continue
        by_week.setdefault(name.week, {}).setdefault(name.kind, []).append(info)

    due: list[WeekDrop] = []
    for week in sorted(by_week):
        kinds = by_week[week]
        week_files = [info for infos in kinds.values() for info in infos]
        if all(seen.get(info.key) == file_version(info) for info in week_files):
            continue
        if week < first_week:
            for info in week_files:
                if seen.get(info.key) != file_version(info):
                    rejected.append(
                        Notice(info.key, f"{info.key}: the week {week} is before the first week {first_week}")
                    )
                    seen[info.key] = file_version(info)
            continue
        if last_week is not None and week > last_week:
            waiting.append(
                Notice(week_files[0].key, f"{week}: the week is not complete yet (the latest week is {last_week})")
            )
            continue
        doubles = [infos for infos in kinds.values() if len(infos) > 1]
        if doubles:
            names = " and ".join(info.key for info in doubles[0])
            waiting.append(
                Notice(doubles[0][0].key, f"{week}: both {names} exist; keep one so it is clear which is read")
            )
            continue
        if SALES not in kinds:
            waiting.append(Notice(kinds[FEATURES][0].key, f"{kinds[FEATURES][0].key} waits for {week}_sales.csv[.gz]"))
            continue
        if now is not None and settle_seconds > 0:
            fresh = [info for info in week_files if now - info.modified < settle_seconds]
            if fresh:
                waiting.append(Notice(fresh[0].key, f"{fresh[0].key} was modified less than {settle_seconds:g} s ago"))
                continue
        due.append(WeekDrop(week, kinds[SALES][0], kinds.get(FEATURES, [None])[0]))

    requests = due[:max_requests]
    for drop in due[max_requests:]:
        waiting.append(Notice(drop.sales.key, f"{drop.week}: more than {max_requests} weeks at once; next look"))
    for drop in requests:
        for info in drop.files:
            seen[info.key] = file_version(info)
    return DropPlan(requests=requests, rejected=rejected, waiting=waiting, cursor=write_cursor(seen))


# -- one week's rows --------------------------------------------------------------------------


def _check_dates(frame: pd.DataFrame, week: pd.Timestamp, where: str, later_ok: bool) -> None:
    dates = frame["Date"].to_numpy()
    bad = (dates < week.to_datetime64()) if later_ok else (dates != week.to_datetime64())
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        expected = f"{week:%Y-%m-%d} or later (the drop's week, or weeks ahead)" if later_ok else f"{week:%Y-%m-%d}"
        raise DataValidationError(
            f"{where}, line {first + 2}, column Date: found {pd.Timestamp(dates[first]):%Y-%m-%d}, expected "
            f"{expected}: the file name says which week a drop holds"
            + (f" ({int(bad.sum())} such rows)" if bad.sum() > 1 else "")
        )


def _empty_features() -> pd.DataFrame:
    columns = {c: pd.Series(dtype="float64") for c in FEATURES_COLUMNS}
    columns.update(
        Store=pd.Series(dtype="int64"), Date=pd.Series(dtype="datetime64[ns]"), IsHoliday=pd.Series(dtype="bool")
    )
    return pd.DataFrame(columns)


def _newest(*frames: pd.DataFrame | None) -> pd.DataFrame:
    """Features rows from several sources, a later source winning per (Store, Date)."""
    parts = [f[list(FEATURES_COLUMNS)] for f in frames if f is not None and len(f)]
    if not parts:
        return _empty_features()
    combined = pd.concat(parts, ignore_index=True)
    return combined.drop_duplicates(["Store", "Date"], keep="last").sort_values(["Store", "Date"], ignore_index=True)


def assemble_week(
    week: str | pd.Timestamp,
    sales: pd.DataFrame,
    stores: pd.DataFrame,
    *,
    features_drop: pd.DataFrame | None,
    stored_week_features: pd.DataFrame | None,
    stored_ahead: pd.DataFrame | None,
    names: Mapping[str, str],
) -> RawData:
    """One week of validated rows, ready to store: the drop's sales (every row in ``week``),
    the week's features (the drop's rows over those stored for that week before: the week's
    own object, else the features stored ahead), the features ahead (the drop's later rows over
    those stored ahead) and the store attributes; the same cross-file checks as the bulk files.

    ``names`` says where each table came from, for the error messages: ``sales``,
    ``features`` and ``stores``. Features rows for later weeks that are already stored do not
    change them: those weeks change when they are ingested again."""
    week = pd.Timestamp(week)
    _check_dates(sales, week, names["sales"], later_ok=False)
    if features_drop is not None:
        _check_dates(features_drop, week, names["features"], later_ok=True)
    ahead = stored_ahead
    earlier = stored_week_features
    if earlier is None and ahead is not None:
        earlier = ahead[ahead["Date"] == week]
    drop_week = drop_ahead = None
    if features_drop is not None:
        drop_week = features_drop[features_drop["Date"] == week]
        drop_ahead = features_drop[features_drop["Date"] > week]
    week_features = _newest(earlier, drop_week)
    later = _newest(ahead[ahead["Date"] > week] if ahead is not None else None, drop_ahead)
    features = pd.concat([week_features, later], ignore_index=True) if len(later) else week_features
    raw = RawData(sales=sales, features=features, stores=stores, source=names["sales"])
    check_consistency(raw, dict(names))
    raw.oddities = {
        "negative_sales_rows": int((sales["Weekly_Sales"] < 0).sum()),
        "markdown_na_values": int(week_features[list(MARKDOWNS)].isna().sum().sum()),
        "cpi_unemployment_na_values": int(week_features[["CPI", "Unemployment"]].isna().sum().sum()),
    }
    return raw
