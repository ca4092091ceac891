"""The embedded SQLite instance storage, with pool slots claimed one process at a time.

Dagster's SQL storage claims a pool slot by selecting a free slot ``FOR UPDATE`` and then
assigning it. PostgreSQL locks the row; SQLite has no row locks, so two run processes that claim
at the same moment (two ``make run`` at once, or a run from the UI beside one from a terminal)
can both take the last slot of ``deepar-training`` and train side by side on the same cores.
This storage is Dagster's own SQLite storage, with the same files under ``$DAGSTER_HOME``, whose
claims (and the creation of a pool's slots, which Dagster does on the first claim) take an
exclusive file lock beside the event log databases first. The shipped
``deploy/dagster.yaml`` selects it; PostgreSQL deployments (``deploy/dagster-postgres.yaml``)
do not need it.
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from dagster._core.storage.event_log.base import ConcurrencyClaimStatus
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    SqliteStorageConfig,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData

CLAIMS_LOCK = ".pool-claims.lock"


@contextmanager
def exclusive(path: str) -> Iterator[None]:
    """Holds an exclusive lock on the file at ``path`` (created if absent) across processes."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PoolLockingSqliteEventLogStorage(SqliteEventLogStorage):
    """SQLite event log storage whose pool-slot claims, and the creation of a pool's slots on
    its first claim, are serialised across processes."""

    def _claims_lock(self) -> AbstractContextManager[None]:
        return exclusive(os.path.join(self._base_dir, CLAIMS_LOCK))

    def initialize_concurrency_limit_to_default(self, concurrency_key: str) -> bool:
        with self._claims_lock():
            return super().initialize_concurrency_limit_to_default(concurrency_key)

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> ConcurrencyClaimStatus:
        with self._claims_lock():
            return super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)


class PoolLockingSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (same layout under ``base_dir``) with the locking event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = base_dir
        self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = PoolLockingSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()  # skips the parent storage, built above

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: SqliteStorageConfig
    ) -> "PoolLockingSqliteStorage":
        return cls.from_local(inst_data=inst_data, **config_value)
