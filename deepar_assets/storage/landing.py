"""The landing zone where weekly drops arrive: a folder or s3://bucket/prefix, over the same
ObjectStore implementations as the rest of the storage (listing with sizes, modification
times and ETags; atomic writes; errors naming the key).

``read_week_drop`` turns one week's drop into validated rows ready to store: each file is read
by the same readers as the bulk Kaggle files (from a local copy under the work folder, so S3
drops are read like local ones, and errors name the drop's own location), completed with the
features and store attributes stored earlier, and checked against the week it claims to be.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pandas as pd

from deepar_assets.domain.kaggle import RawData, read_features, read_sales, read_stores
from deepar_assets.domain.landing import STORES_NAMES, DropRequest, assemble_week
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.base import ObjectInfo, ObjectStore
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import (
    FEATURES,
    FEATURES_AHEAD,
    STORES,
    read_features_ahead,
    read_store_attributes,
    read_week_features,
    week_key,
)

T = TypeVar("T")


class LandingZone:
    """Weekly drops directly under a store's root (sub-folders are not looked into)."""

    def __init__(self, store: ObjectStore):
        self.store = store

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

    @contextmanager
    def local_copy(self, key: str, work_dir: Path) -> Iterator[Path]:
        """The drop as a local file with its own name (its .gz suffix says how to read it)."""
        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="landing-", dir=work_dir))
        try:
            path = folder / key.rsplit("/", 1)[-1]
            path.write_bytes(self.store.get_bytes(key))
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

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

    def stores_key(self, listing: list[ObjectInfo] | None = None) -> str | None:
        """``stores.csv`` or ``stores.csv.gz`` when the zone has one (both: an error)."""
        keys = {info.key for info in (self.listing() if listing is None else listing)}
        found = [name for name in STORES_NAMES if name in keys]
        if len(found) > 1:
            raise DataValidationError(
                f"{self.root_uri}: both {' and '.join(found)} exist; keep one so it is clear which is read"
            )
        return found[0] if found else None


def read_week_drop(zone: LandingZone, store: ObjectStore, drop: DropRequest, work_dir: Path) -> RawData:
    """One week's drop, read, validated and completed with what is stored (``store``): the
    week's features from the drop, else those stored for that week or ahead of the history;
    store attributes from the zone's stores.csv, else those stored."""
    week = pd.Timestamp(drop.week)
    sales = zone.read(drop.sales_key, read_sales, work_dir)
    features = zone.read(drop.features_key, read_features, work_dir) if drop.features_key else None
    stores_key = zone.stores_key()
    if stores_key:
        stores, stores_name = zone.read(stores_key, read_stores, work_dir), zone.uri(stores_key)
    else:
        stores, stores_name = read_store_attributes(store), store.uri(STORES)
        if stores is None:
            raise DataValidationError(
                f"{zone.uri(drop.sales_key)}: no store attributes to check it against: {store.uri(STORES)} does not "
                f"exist and {zone.root_uri} has no stores.csv; load the history first (make run) or put stores.csv "
                "in the landing zone"
            )
    if drop.features_key:
        features_name = zone.uri(drop.features_key)
    else:
        features_name = (
            f"the stored features ({store.uri(week_key(FEATURES, week))}, {store.uri(FEATURES_AHEAD)}; "
            f"there is no {drop.week}_features.csv drop)"
        )
    return assemble_week(
        week,
        sales,
        stores,
        features_drop=features,
        stored_week_features=read_week_features(store, week),
        stored_ahead=read_features_ahead(store),
        names={"sales": zone.uri(drop.sales_key), "features": features_name, "stores": stores_name},
    )
