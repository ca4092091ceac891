"""The landing zone over a folder and over S3 (moto's server over HTTP): listings with versions,
paging through every key, drops read from a local copy with errors naming the drop itself."""

from __future__ import annotations

import hashlib
import time

import pytest

from deepar_assets.domain.kaggle import read_kaggle, read_sales
from deepar_assets.domain.landing import DropRequest
from deepar_assets.errors import DataValidationError
from deepar_assets.resources.source import SalesSource
from deepar_assets.storage.landing import LandingZone, read_week_drop
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import write_weeks
from deepar_assets_tests.storage.conftest import BUCKET, PREFIX


def test_listings_carry_size_and_modification_time_and_s3_etags(any_store):
    before = time.time() - 5
    any_store.put_bytes("2012-10-26_sales.csv", b"abc")
    any_store.put_bytes("sub/2012-10-19_sales.csv", b"abcd")
    infos = any_store.list_info()
    assert [(i.key, i.size) for i in infos] == [("2012-10-26_sales.csv", 3), ("sub/2012-10-19_sales.csv", 4)]
    assert all(before <= i.modified <= time.time() + 5 for i in infos)
    if isinstance(any_store, FolderStore):
        assert all(i.etag is None for i in infos)
    else:  # a single-part upload's ETag is the MD5 of its bytes
        assert infos[0].etag == hashlib.md5(b"abc").hexdigest()
    assert [i.key for i in any_store.list_info("sub/")] == ["sub/2012-10-19_sales.csv"]
    zone = LandingZone(any_store)
    assert [i.key for i in zone.listing()] == ["2012-10-26_sales.csv"]  # sub-folders are not looked into


def test_a_folder_listing_skips_files_being_written(tmp_path):
    store = FolderStore(tmp_path)
    (tmp_path / ".2012-10-26_sales.csv.x.partial").write_bytes(b"half")
    store.put_bytes("2012-10-26_sales.csv", b"whole")
    assert [i.key for i in store.list_info()] == ["2012-10-26_sales.csv"]
    assert (
        LandingZone(FolderStore(tmp_path / "nope")).missing()
        == f"the landing folder {tmp_path / 'nope'} does not exist"
    )


def test_an_s3_listing_pages_through_every_key(make_s3_store, fault_proxy):
    store = make_s3_store(endpoint_url=fault_proxy.url, page_size=4)
    keys = [
        f"2011-{month:02d}-{day:02d}_{kind}.csv" for month, day in [(1, 7), (2, 4), (3, 4)] for kind in ("a", "b", "c")
    ]
    for key in reversed(keys):
        store.put_bytes(key, b"x")
    fault_proxy.clear()
    assert [i.key for i in LandingZone(store).listing()] == sorted(keys)
    assert len(fault_proxy.seen("GET", r"list-type=2")) == 3  # 4 + 4 + 1 keys
    assert not fault_proxy.seen("GET", r"start-after")


def test_the_landing_zone_is_built_from_deepar_landing(monkeypatch, tmp_path, bucket):
    monkeypatch.setenv("DEEPAR_LANDING", str(tmp_path / "landing"))
    assert SalesSource().landing_zone().root_uri == str(tmp_path / "landing")
    monkeypatch.setenv("DEEPAR_LANDING", f"s3://{BUCKET}/{PREFIX}")
    zone = SalesSource().landing_zone()
    zone.put("2012-10-26_sales.csv", b"a")
    assert zone.root_uri == f"s3://{BUCKET}/{PREFIX}" and [i.key for i in zone.listing()] == ["2012-10-26_sales.csv"]
    monkeypatch.setenv("DEEPAR_LANDING", "ftp://host/x")
    with pytest.raises(ValueError, match="expected a folder or s3://bucket/prefix"):
        SalesSource().landing_zone()


def test_an_s3_drop_error_names_the_drop_not_a_local_copy(make_s3_store, tmp_path, small_source):
    zone = LandingZone(make_s3_store())
    lines = (small_source / "train.csv").read_text().splitlines()
    fields = lines[3].split(",")
    fields[3] = "lots"
    lines[3] = ",".join(fields)
    zone.put("2010-02-05_sales.csv", ("\n".join(lines[:5]) + "\n").encode())
    work = tmp_path / "work"
    with pytest.raises(DataValidationError) as caught:
        zone.read("2010-02-05_sales.csv", read_sales, work)
    assert str(caught.value) == (
        f"s3://{BUCKET}/{PREFIX}/2010-02-05_sales.csv, line 4, column Weekly_Sales: found 'lots', expected a number"
    )
    assert list(work.iterdir()) == []  # the local copy is gone


def test_a_drop_reads_its_week_features_stored_ahead_and_the_stored_store_attributes(tmp_path, small_source):
    raw = read_kaggle(small_source)
    weeks = sorted(raw.sales["Date"].unique())
    storage = FolderStore(tmp_path / "storage")
    write_weeks(storage, raw, weeks[:10])
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    week = weeks[10]
    rows = (small_source / "train.csv").read_text().splitlines()
    header, body = rows[0], [r for r in rows[1:] if r.split(",")[2] == f"{week:%Y-%m-%d}"]
    zone.put(f"{week:%Y-%m-%d}_sales.csv", ("\n".join([header, *body]) + "\n").encode())
    drop = DropRequest(week=f"{week:%Y-%m-%d}", sales_key=f"{week:%Y-%m-%d}_sales.csv")
    week_raw = read_week_drop(zone, storage, drop, tmp_path / "work")
    assert len(week_raw.sales) == len(body) == int((raw.sales["Date"] == week).sum())
    assert week_raw.features["Date"].min() == week
    assert week_raw.stores.equals(raw.stores)

    empty = FolderStore(tmp_path / "nothing-stored")
    with pytest.raises(
        DataValidationError, match=r"no store attributes to check it against: .*raw/stores\.parquet does not exist"
    ):
        read_week_drop(zone, empty, drop, tmp_path / "work")
    # A stores.csv in the landing zone is read instead (and validated like the bulk file).
    zone.put("stores.csv", b"Store,Type,Size\n1,A,1000\n2,B,2000\n3,Z,3000\n")
    with pytest.raises(
        DataValidationError, match=rf"{tmp_path / 'landing' / 'stores.csv'}, line 4, column Type: found 'Z'"
    ):
        read_week_drop(zone, storage, drop, tmp_path / "work")
