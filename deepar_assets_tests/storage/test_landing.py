"""The landing zone over a folder and over S3 (moto's server over HTTP): listings with versions,
paging through every key, drops read from a local copy with errors naming the drop itself."""

from __future__ import annotations

import hashlib
import os
import re
import time

import pytest

from deepar_assets.domain.landing import DropRequest, LandingLayout, drop_request_from_tags, plan_drops
from deepar_assets.domain.reading import read_dataset, read_table
from deepar_assets.domain.spec import load_spec
from deepar_assets.errors import DataValidationError
from deepar_assets.resources.source import SalesSource
from deepar_assets.storage.base import ObjectChangedError, clean_stale_folders
from deepar_assets.storage.landing import SCRATCH_PREFIX, LandingZone, read_partition_drop
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import write_partitions
from deepar_assets_tests.storage.conftest import BUCKET, PREFIX

SPEC = load_spec("synthetic")


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
        zone.read("2010-02-05_sales.csv", lambda path: read_table(SPEC, SPEC.target, [path]), work)
    assert str(caught.value) == (
        f"s3://{BUCKET}/{PREFIX}/2010-02-05_sales.csv, line 4, column Weekly_Sales: found 'lots', expected a number"
    )
    assert list(work.iterdir()) == []  # the local copy is gone


def _week_of(source, week: str) -> bytes:
    rows = (source / "train.csv").read_text().splitlines()
    return ("\n".join([rows[0], *[r for r in rows[1:] if r.split(",")[2] == week]]) + "\n").encode()


def test_a_drop_reads_its_related_rows_stored_ahead_and_the_stored_metadata(tmp_path, small_source):
    raw = read_dataset(SPEC, small_source)
    weeks = [f"{w:%Y-%m-%d}" for w in sorted(raw.target["Date"].unique())]
    storage = FolderStore(tmp_path / "storage")
    write_partitions(storage, raw, weeks[:10])
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    week = weeks[10]
    zone.put(f"{week}_sales.csv", _week_of(small_source, week))
    drop = DropRequest(partition=week, target_key=f"{week}_sales.csv")
    week_raw = read_partition_drop(zone, storage, SPEC, drop, tmp_path / "work")
    assert len(week_raw.target) == int((raw.target["Date"] == week).sum())
    assert (week_raw.target["Date"] == week).all()
    assert week_raw.related["features"]["Date"].min().strftime("%Y-%m-%d") == week
    assert week_raw.metadata["stores"].equals(raw.metadata["stores"])
    assert week_raw.source == zone.uri(f"{week}_sales.csv")

    empty = FolderStore(tmp_path / "nothing-stored")
    with pytest.raises(
        DataValidationError,
        match=r"no stores attributes to check it against: .*raw/_log stores no stores table",
    ):
        read_partition_drop(zone, empty, SPEC, drop, tmp_path / "work")
    # A stores.csv in the landing zone is read instead (and validated like the source's file).
    zone.put("stores.csv", b"Store,Type,Size\n1,A,1000\n2,B,2000\n3,Z,3000\n")
    with pytest.raises(
        DataValidationError, match=rf"{tmp_path / 'landing' / 'stores.csv'}, line 4, column Type: found 'Z'"
    ):
        read_partition_drop(zone, storage, SPEC, drop, tmp_path / "work")
    zone.put("stores.csv.gz", b"")
    with pytest.raises(DataValidationError, match=r"both stores\.csv and stores\.csv\.gz exist"):
        read_partition_drop(zone, storage, SPEC, drop, tmp_path / "work")


def test_a_daily_dataset_drop_of_a_week(tmp_path):
    """store_item_demand's layout: daily rows, weekly (Monday) partitions, no related tables."""
    import pandas as pd

    spec = load_spec("store_item_demand")
    days = pd.date_range("2013-01-01", "2013-01-20", freq="D")
    rows = [
        f"{d:%Y-%m-%d},{store},{item},{(i + store * item) % 9}"
        for i, d in enumerate(days)
        for store in (1, 2)
        for item in (1, 2, 3)
    ]
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.csv").write_text("date,store,item,sales\n" + "\n".join(rows) + "\n")
    raw = read_dataset(spec, source)
    storage = FolderStore(tmp_path / "storage")
    assert write_partitions(storage, raw, ["2012-12-31", "2013-01-07"])["partitions"] == 2
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    week = [r for r in rows if "2013-01-14" <= r[:10] <= "2013-01-20"]
    zone.put("2013-01-14_sales.csv", ("date,store,item,sales\n" + "\n".join(week) + "\n").encode())
    drop = DropRequest(partition="2013-01-14", target_key="2013-01-14_sales.csv")
    got = read_partition_drop(zone, storage, spec, drop, tmp_path / "work")
    assert len(got.target) == 7 * 6 and got.target["date"].min() == pd.Timestamp("2013-01-14")
    zone.put("2013-01-14_sales.csv", ("date,store,item,sales\n" + "\n".join([*week, rows[0]]) + "\n").encode())
    with pytest.raises(
        DataValidationError,
        match=r"2013-01-14_sales\.csv, line 44, column date: found 2013-01-01, expected a period from 2013-01-14 to "
        r"2013-01-20",
    ):
        read_partition_drop(zone, storage, spec, drop, tmp_path / "work")


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_a_run_reads_the_version_it_was_asked_for_or_fails_saying_why(request, where, tmp_path, small_source):
    """A file replaced between the sensor's look and the run's read used to be ingested under
    the version the sensor had seen."""
    raw = read_dataset(SPEC, small_source)
    weeks = [f"{w:%Y-%m-%d}" for w in sorted(raw.target["Date"].unique())]
    storage = FolderStore(tmp_path / "storage")
    write_partitions(storage, raw, weeks[:10])
    store = FolderStore(tmp_path / "landing") if where == "folder" else request.getfixturevalue("make_s3_store")()
    zone = LandingZone(store)
    week = weeks[10]
    key = f"{week}_sales.csv"
    zone.put(key, _week_of(small_source, week))
    [due] = plan_drops(zone.listing(), None, LandingLayout.of(SPEC)).requests
    drop = drop_request_from_tags(due.tags(zone.root_uri, LandingLayout.of(SPEC)), LandingLayout.of(SPEC))
    pinned = zone.pinned(drop.versions)
    read = read_partition_drop(pinned, storage, SPEC, drop, tmp_path / "work")  # unchanged: read as asked
    assert len(read.target) == int((raw.target["Date"] == week).sum())

    time.sleep(0.01)
    zone.put(key, _week_of(small_source, week).replace(b".", b"9", 1))  # the same size, other bytes
    version = re.escape(drop.versions[key])
    with pytest.raises(
        ObjectChangedError,
        match=rf"{re.escape(zone.uri(key))} changed since it was listed.*the version {version} of .*ingests nothing; "
        "the landing sensor requests the new version on its next look",
    ):
        read_partition_drop(pinned, storage, SPEC, drop, tmp_path / "work")
    assert list((tmp_path / "work").iterdir()) == []


def test_local_copies_that_killed_runs_left_are_removed_and_live_ones_kept(tmp_path):
    work = tmp_path / "work"
    killed, young = work / "landing-killed", work / "landing-young"
    (killed / "sub").mkdir(parents=True)
    (killed / "sub" / "2012-10-26_sales.csv").write_bytes(b"left behind")
    young.mkdir()
    two_hours_ago = time.time() - 7200
    os.utime(killed, (two_hours_ago, two_hours_ago))
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    zone.put("2012-10-26_sales.csv", b"1")
    with zone.local_copy("2012-10-26_sales.csv", work) as path:
        assert path.read_bytes() == b"1"
        assert zone.cleaned == [str(killed)]  # young: perhaps a run still reading
        # Later, another run's cleanup: the stale young folder goes, the copy in use (locked) stays.
        assert clean_stale_folders(work, SCRATCH_PREFIX, now=time.time() + 7200) == [str(young)]
        assert path.exists()
    assert list(work.iterdir()) == []
