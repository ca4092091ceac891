"""Raw storage under attack (#18 items 2, 3 and 7): drops out of order, two loads at once on a
slow store (a folder, and S3 on moto's server), a reload that fails or is killed half-way, and
the cleanup of what a killed load left."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from deepar_assets.domain.landing import DropRequest
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec import load_spec
from deepar_assets.errors import StorageError
from deepar_assets.storage.base import ObjectInfo, ObjectStore
from deepar_assets.storage.landing import LandingZone, read_partition_drop
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import LOG_PREFIX, StoredRaw, clean, read_stored, stored_partitions, write_partitions
from deepar_assets.storage.raw.manifest import GRACE_SECONDS, KEEP_LOG_ENTRIES

SPEC = load_spec("synthetic")
SORT = ["Store", "Dept", "Date"]


class Wrapped(ObjectStore):
    """Passes every call to a real store; subclasses slow down or break some."""

    def __init__(self, inner: ObjectStore):
        self.inner = inner

    @property
    def root_uri(self) -> str:
        return self.inner.root_uri

    def uri(self, key: str) -> str:
        return self.inner.uri(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.inner.put_bytes(key, data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        return self.inner.put_if_absent(key, data)

    def get_bytes(self, key: str) -> bytes:
        return self.inner.get_bytes(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list_keys(self, prefix: str = "") -> list[str]:
        return self.inner.list_keys(prefix)

    def list_info(self, prefix: str = "") -> list[ObjectInfo]:
        return self.inner.list_info(prefix)


class Slow(Wrapped):
    """Every read and write takes ``delay`` seconds more (a slow endpoint). A commit (the
    create-only write) sets ``arrived``, waits for ``go``, then sets ``done``: two writers can be
    made to commit in a given order."""

    def __init__(
        self,
        inner: ObjectStore,
        delay: float,
        arrived: threading.Event | None = None,
        go: threading.Event | None = None,
        done: threading.Event | None = None,
    ):
        super().__init__(inner)
        self.delay, self.arrived, self.go, self.done = delay, arrived, go, done

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if self.arrived:
            self.arrived.set()
        if self.go and not self.go.wait(timeout=60):
            raise TimeoutError("the other writer never committed")
        created = super().put_if_absent(key, data)
        if self.done:
            self.done.set()
        return created

    def get_bytes(self, key: str) -> bytes:
        time.sleep(self.delay)
        return super().get_bytes(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        time.sleep(self.delay)
        super().put_bytes(key, data)


class BreaksAfter(Wrapped):
    """Writes ``n`` objects, then every write fails (a network gone, a disk full)."""

    def __init__(self, inner: ObjectStore, n: int):
        super().__init__(inner)
        self.left = n

    def put_bytes(self, key: str, data: bytes) -> None:
        if self.left <= 0:
            raise StorageError(f"cannot write {key}: the test broke the store")
        self.left -= 1
        super().put_bytes(key, data)


@pytest.fixture
def raw(small_source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_dataset(SPEC, small_source)


def _weeks(raw) -> list[str]:
    return [f"{w:%Y-%m-%d}" for w in sorted(raw.target["Date"].unique())]


def _history(raw, weeks: list[str]):
    """The raw data with target rows for ``weeks`` only (the related tables whole: the bulk features file)."""
    return dataclasses.replace(raw, target=raw.target[raw.target["Date"].isin(pd.to_datetime(weeks))])


def _lines(path: Path, dates: set[str], column: int) -> list[str]:
    rows = path.read_text().splitlines()
    return [rows[0], *[r for r in rows[1:] if r.split(",")[column] in dates]]


def _ingest(zone: LandingZone, store: ObjectStore, week: str, work: Path, features: bool = False) -> dict:
    """What raw_sales does with a drop: read it, complete it with what is stored, commit it."""
    drop = DropRequest(
        partition=week,
        target_key=f"{week}_sales.csv",
        related_keys={"features": f"{week}_features.csv"} if features else {},
    )
    stored = StoredRaw(store, SPEC)
    ingested = read_partition_drop(zone, stored, SPEC, drop, work)
    return write_partitions(store, ingested, [week], over=stored.manifest)


def _sorted(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.sort_values(columns).reset_index(drop=True)


# -- item 2: drops out of order ------------------------------------------------------------------------


def test_a_partition_ingested_after_a_later_one_keeps_its_features_from_the_bulk_load(tmp_path, raw, small_source):
    """W+2 ingested before W+1 used to rewrite the stored ahead-features to weeks after W+2: W+1's
    features (from the bulk features file) were gone, and its late sales drop failed "no features row"."""
    weeks = _weeks(raw)
    store = FolderStore(tmp_path / "storage")
    write_partitions(store, _history(raw, weeks[:60]), weeks[:60])
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    for week in (weeks[61], weeks[60]):  # W+2, then the late W+1; sales drops only
        zone.put(f"{week}_sales.csv", ("\n".join(_lines(small_source / "train.csv", {week}, 2)) + "\n").encode())
        _ingest(zone, store, week, tmp_path / "work")
    assert stored_partitions(store, SPEC) == weeks[:62]
    back = read_stored(store, SPEC)
    pd.testing.assert_frame_equal(_sorted(back.target, SORT), _sorted(_history(raw, weeks[:62]).target, SORT))
    # Every week's features, the ones ahead of the history included, are still those of the bulk file.
    pd.testing.assert_frame_equal(
        _sorted(back.related["features"], ["Store", "Date"]), _sorted(raw.related["features"], ["Store", "Date"])
    )


# -- item 3: two loads at once -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_two_landing_runs_at_once_on_a_slow_store_keep_both_feature_updates(kind, tmp_path, raw, small_source, request):
    """Both runs read the stored features, then both write: before, the second write dropped the
    first run's update to the features known ahead, and both runs reported success."""
    inner = FolderStore(tmp_path / "storage") if kind == "folder" else request.getfixturevalue("make_s3_store")()
    weeks = _weeks(raw)
    write_partitions(inner, _history(raw, weeks[:74]), weeks[:74])
    zone = LandingZone(FolderStore(tmp_path / "landing"))
    later = [f"{pd.Timestamp(weeks[-1]) + pd.Timedelta(weeks=n):%Y-%m-%d}" for n in (5, 6)]  # known ahead only
    updates = {weeks[74]: (later[0], "111.11"), weeks[75]: (later[1], "222.22")}
    for week, (ahead, temperature) in updates.items():
        zone.put(f"{week}_sales.csv", ("\n".join(_lines(small_source / "train.csv", {week}, 2)) + "\n").encode())
        dates = {f"{d:%Y-%m-%d}" for d in pd.date_range(week, ahead, freq="W-FRI")}  # its week to the one it changes
        rows = _lines(small_source / "features.csv", dates, 1)
        rows = [
            f"1,{ahead},{temperature}," + ",".join(r.split(",")[3:]) if r.startswith(f"1,{ahead},") else r for r in rows
        ]
        zone.put(f"{week}_features.csv", ("\n".join(rows) + "\n").encode())

    # The second writer builds its manifest over what was stored, then the first commits, then
    # the second tries: it finds the first's entry and merges over it.
    second_built, first_committed = threading.Event(), threading.Event()
    slow = {
        weeks[74]: Slow(inner, 0.1, go=second_built, done=first_committed),
        weeks[75]: Slow(inner, 0.1, arrived=second_built, go=first_committed),
    }
    read_both = threading.Barrier(2, timeout=60)
    results: dict[str, object] = {}

    def run(week: str) -> None:
        try:
            drop = DropRequest(week, f"{week}_sales.csv", {"features": f"{week}_features.csv"})
            stored = StoredRaw(slow[week], SPEC)
            ingested = read_partition_drop(zone, stored, SPEC, drop, tmp_path / f"work-{week}")
            read_both.wait()  # both have read what is stored before either writes
            results[week] = write_partitions(slow[week], ingested, [week], over=stored.manifest)
        except Exception as exc:  # reported below
            results[week] = exc

    threads = [threading.Thread(target=run, args=(week,)) for week in updates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, dict) for r in results.values()), results
    assert [results[week]["commit_attempts"] for week in updates] == [1, 2]  # the second merged over the first

    back = read_stored(inner, SPEC)
    assert stored_partitions(inner, SPEC) == weeks[:76]
    features = back.related["features"].set_index(["Store", "Date"])["Temperature"]
    for ahead, temperature in updates.values():
        assert features[(1, pd.Timestamp(ahead))] == float(temperature)
    assert not back.related["features"].duplicated(["Store", "Date"]).any()


# -- item 7: a reload that fails or is killed half-way -------------------------------------------------------


def _restated(raw):
    return dataclasses.replace(raw, target=raw.target.assign(Weekly_Sales=raw.target["Weekly_Sales"] + 1.0))


def test_a_reload_that_breaks_half_way_leaves_the_previous_load_whole(tmp_path, raw):
    store = FolderStore(tmp_path / "storage")
    weeks = _weeks(raw)
    write_partitions(store, raw, weeks)
    before = _sorted(read_stored(store, SPEC).target, SORT)
    with pytest.raises(StorageError, match="the test broke the store"):
        write_partitions(BreaksAfter(store, 7), _restated(raw), weeks)
    pd.testing.assert_frame_equal(_sorted(read_stored(store, SPEC).target, SORT), before)
    assert len(store.list_keys(f"{LOG_PREFIX}/")) == 1


KILLED_LOAD = textwrap.dedent(
    """
    import sys, time, warnings
    from pathlib import Path
    from deepar_assets.domain.reading import read_dataset
    from deepar_assets.domain.spec import load_spec
    from deepar_assets.storage.local import FolderStore
    from deepar_assets.storage.raw import write_partitions

    class Slow(FolderStore):
        def put_bytes(self, key, data):
            super().put_bytes(key, data)
            with open(sys.argv[3], "a") as progress:
                progress.write(key + "\\n")
            time.sleep(0.05)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = read_dataset(load_spec("synthetic"), Path(sys.argv[1]))
    raw.target = raw.target.assign(Weekly_Sales=raw.target["Weekly_Sales"] + 1.0)
    weeks = sorted({f"{w:%Y-%m-%d}" for w in raw.target["Date"]})
    write_partitions(Slow(sys.argv[2]), raw, weeks)
    """
)


def test_a_reload_killed_half_way_leaves_the_previous_load_whole_and_is_cleaned_later(tmp_path, raw, small_source):
    store = FolderStore(tmp_path / "storage")
    weeks = _weeks(raw)
    write_partitions(store, raw, weeks)
    before = _sorted(read_stored(store, SPEC).target, SORT)
    objects = set(store.list_keys("raw/"))
    progress = tmp_path / "progress.txt"
    progress.touch()
    child = subprocess.Popen([sys.executable, "-c", KILLED_LOAD, str(small_source), str(store.root), str(progress)])
    try:
        deadline = time.monotonic() + 120
        while len(progress.read_text().splitlines()) < 5:  # writes have begun
            assert child.poll() is None and time.monotonic() < deadline, "the load ended before it was killed"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    pd.testing.assert_frame_equal(_sorted(read_stored(store, SPEC).target, SORT), before)
    left = set(store.list_keys("raw/")) - objects
    assert left and all(not key.startswith(f"{LOG_PREFIX}/") for key in left)

    assert clean(store, SPEC)["objects_deleted"] == 0  # too young: could be a load still running
    cleaned = clean(store, SPEC, now=time.time() + GRACE_SECONDS + 1)
    assert cleaned["objects_deleted"] == len(left)
    assert set(store.list_keys("raw/")) == objects
    pd.testing.assert_frame_equal(_sorted(read_stored(store, SPEC).target, SORT), before)


def test_a_commit_keeps_the_last_log_entries_only(tmp_path, raw):
    store = FolderStore(tmp_path / "storage")
    weeks = _weeks(raw)
    for _ in range(KEEP_LOG_ENTRIES + 3):
        result = write_partitions(store, raw, weeks[:2])
    log = store.list_keys(f"{LOG_PREFIX}/")
    assert len(log) == KEEP_LOG_ENTRIES and log[-1].endswith(f"{KEEP_LOG_ENTRIES + 2:010d}.json")
    assert result["cleaned"]["log_entries_deleted"] == 1
    assert stored_partitions(store, SPEC) == weeks[:2]
