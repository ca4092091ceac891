"""Validated raw weeks, stored columnar: one Parquet object per week and table.

Layout under the store: ``raw/sales/<YYYY-MM-DD>.parquet`` and ``raw/features/<YYYY-MM-DD>.parquet``
for each ingested week (a week re-ingested replaces its objects, so rows are never
duplicated), ``raw/stores.parquet`` (store attributes, replaced by each ingest) and
``raw/features_ahead.parquet`` (the features the source knows for weeks after the last week
written: the future-known features forecasts need).
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepar_assets.domain.kaggle import RawData
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.base import ObjectStore

RAW_PREFIX = "raw"
SALES = f"{RAW_PREFIX}/sales"
FEATURES = f"{RAW_PREFIX}/features"
STORES = f"{RAW_PREFIX}/stores.parquet"
FEATURES_AHEAD = f"{RAW_PREFIX}/features_ahead.parquet"


def _to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    return buffer.getvalue()


def _from_parquet(data: bytes) -> pd.DataFrame:
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    if "Date" in frame:
        frame["Date"] = frame["Date"].astype("datetime64[ns]")
    return frame


def week_key(prefix: str, week: pd.Timestamp) -> str:
    return f"{prefix}/{week:%Y-%m-%d}.parquet"


def write_weeks(store: ObjectStore, raw: RawData, weeks: Iterable[pd.Timestamp]) -> dict[str, int]:
    """Store the given weeks of validated raw data, one object per week and table.

    Every week asked for must have sales rows and a features row for each store that sells
    in it; that is checked for all weeks before anything is written, so a bad request stores
    nothing."""
    weeks = sorted(pd.Timestamp(w) for w in weeks)
    sales_by_week = dict(tuple(raw.sales.groupby("Date", sort=False)))
    features_by_week = dict(tuple(raw.features.groupby("Date", sort=False)))
    missing = [w for w in weeks if w not in sales_by_week]
    if missing:
        have = raw.sales["Date"]
        raise DataValidationError(
            f"{raw.source}: no sales rows for the week(s) {', '.join(f'{w:%Y-%m-%d}' for w in missing[:5])}"
            f"{' …' if len(missing) > 5 else ''}; the source has weeks {have.min():%Y-%m-%d} to {have.max():%Y-%m-%d}"
        )
    for week in weeks:
        stores = set(sales_by_week[week]["Store"].unique().tolist())
        known = set(features_by_week.get(week, pd.DataFrame({"Store": []}))["Store"].tolist())
        if not stores <= known:
            raise DataValidationError(
                f"{raw.source}: week {week:%Y-%m-%d} has sales for store(s) {sorted(stores - known)[:10]} "
                "but no features row for them"
            )
    rows = 0
    for week in weeks:
        sales = sales_by_week[week]
        store.put_bytes(week_key(SALES, week), _to_parquet(sales))
        store.put_bytes(week_key(FEATURES, week), _to_parquet(features_by_week[week]))
        rows += len(sales)
    store.put_bytes(STORES, _to_parquet(raw.stores))
    store.put_bytes(FEATURES_AHEAD, _to_parquet(raw.features[raw.features["Date"] > weeks[-1]]))
    return {"weeks": len(weeks), "rows": rows}


def stored_weeks(store: ObjectStore) -> list[pd.Timestamp]:
    return [pd.Timestamp(key.rsplit("/", 1)[1].removesuffix(".parquet")) for key in store.list_keys(f"{SALES}/")]


def read_stored(store: ObjectStore) -> RawData:
    """Every stored week, as one RawData (features: the stored weeks plus the weeks ahead)."""
    weeks = stored_weeks(store)
    if not weeks:
        raise DataValidationError(f"no raw weeks are stored in {store.uri(SALES)}; materialize raw_sales first")
    sales = pd.concat([_from_parquet(store.get_bytes(week_key(SALES, w))) for w in weeks], ignore_index=True)
    features = [_from_parquet(store.get_bytes(week_key(FEATURES, w))) for w in weeks]
    if store.exists(FEATURES_AHEAD):
        ahead = _from_parquet(store.get_bytes(FEATURES_AHEAD))
        features.append(ahead[ahead["Date"] > weeks[-1]])
    return RawData(
        sales=sales,
        features=pd.concat(features, ignore_index=True),
        stores=_from_parquet(store.get_bytes(STORES)),
        source=store.uri(RAW_PREFIX),
    )


def _optional(store: ObjectStore, key: str) -> pd.DataFrame | None:
    return _from_parquet(store.get_bytes(key)) if store.exists(key) else None


def read_week_features(store: ObjectStore, week: pd.Timestamp) -> pd.DataFrame | None:
    """The features stored for one ingested week, or None when the week was never ingested."""
    return _optional(store, week_key(FEATURES, pd.Timestamp(week)))


def read_features_ahead(store: ObjectStore) -> pd.DataFrame | None:
    """The features stored for the weeks after the last week written, or None."""
    return _optional(store, FEATURES_AHEAD)


def read_store_attributes(store: ObjectStore) -> pd.DataFrame | None:
    """The stored store attributes (Store, Type, Size), or None before the first ingest."""
    return _optional(store, STORES)
