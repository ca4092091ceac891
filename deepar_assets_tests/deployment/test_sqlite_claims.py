"""Several processes that claim the last slot of a pool at the same moment on the embedded SQLite
instance (deploy/dagster.yaml): one gets it. Dagster's SQL claim relies on row locks SQLite does
not have; the shipped storage serialises claims with a file lock. The test widens the window
between reading the free slots and taking one to 0.3 s in every claiming process."""

import multiprocessing
import os
import shutil
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from deepar_assets.resources.sqlite_instance import PoolLockingSqliteEventLogStorage
from deepar_assets_tests.deployment.conftest import ROOT

PROCESSES = 3


class _Rows:
    def __init__(self, rows):
        self._rows = rows

    def fetchone(self):
        return self._rows[0] if self._rows else None


class _SlowSlotSelects:
    """A connection whose selects of free pool slots return after 0.3 s, as on a slow disk."""

    def __init__(self, connection):
        self._connection = connection

    def execute(self, statement, *args, **kwargs):
        result = self._connection.execute(statement, *args, **kwargs)
        text = str(statement)
        if text.lstrip().upper().startswith("SELECT") and "concurrency_slots.step_key IS NULL" in text:
            rows = result.fetchall()
            time.sleep(0.3)
            return _Rows(rows)
        return result

    def __getattr__(self, name):
        return getattr(self._connection, name)


def _claim(home: str, barrier, claims, index: int) -> None:
    os.environ["DAGSTER_HOME"] = home
    with dg.DagsterInstance.get() as instance:
        storage: Any = instance.event_log_storage
        index_connection = storage.index_connection

        class _Slow:
            def __enter__(self):
                self._context = index_connection()
                return _SlowSlotSelects(self._context.__enter__())

            def __exit__(self, *exc):
                return self._context.__exit__(*exc)

        storage.index_connection = _Slow
        barrier.wait()
        status = storage.claim_concurrency_slot("deepar-training", f"run-{index}", "tuning_run")
        claims.put((type(storage).__name__, status.is_claimed))


def _claims_at_once(home: Path) -> list[tuple[str, bool]]:
    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        instance.event_log_storage.set_concurrency_slots("deepar-training", 1)
    # spawn, not fork: a fork of a process with threads (earlier tests leave some) can deadlock in the child
    context = multiprocessing.get_context("spawn")
    barrier, claims = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=_claim, args=(str(home), barrier, claims, i)) for i in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    return [claims.get(timeout=5) for _ in range(PROCESSES)]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


def test_the_shipped_sqlite_instance_gives_the_last_slot_to_one_of_several_claims_at_once(home):
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    claims = _claims_at_once(home)
    assert {storage for storage, _ in claims} == {PoolLockingSqliteEventLogStorage.__name__}
    assert sum(claimed for _, claimed in claims) == 1, claims


def test_the_shipped_sqlite_instance_keeps_dagsters_files_under_the_home(home):
    """Same layout as Dagster's default, so an existing .deepar/dagster_home keeps its history."""
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.get() as instance:
        instance.event_log_storage.set_concurrency_slots("deepar-training", 1)
    assert (home / "history" / "runs.db").exists()
    assert (home / "history" / "runs" / "index.db").exists()
    assert (home / "schedules" / "schedules.db").exists()
