"""The embedded SQLite instance, with pool slots claimed one process at a time.

Dagster's SQL storage claims a pool slot by selecting a free slot ``FOR UPDATE`` and then
assigning it. PostgreSQL locks the row; SQLite has no row locks, so two run processes that claim
at the same moment (two ``make run`` at once, or a run from the UI beside one from a terminal)
can both take the last slot of ``deepar-training`` and train side by side on the same cores.
The shipped ``deploy/dagster.yaml`` names :class:`PoolLockingInstance` as the instance class:
Dagster's own instance and storage, with the same files in the Dagster home, whose event log
storage takes an exclusive file lock beside its databases before it claims a slot (or creates a
pool's slots, which Dagster does on the first claim). PostgreSQL deployments
(``deploy/dagster-postgres.yaml``) do not need it.
"""

import fcntl
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.base import ConcurrencyClaimStatus
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
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


class PoolLockingInstance(DagsterInstance):
    """Dagster's instance, whose SQLite event log storage (the default one, under the instance's
    own folder) claims pool slots one process at a time. Any other storage is left as it is."""

    def __init__(self, **kwargs: Any):  # Dagster's instance factory passes keywords only
        storage = kwargs.get("event_storage")
        if type(storage) is SqliteEventLogStorage:
            kwargs["event_storage"] = PoolLockingSqliteEventLogStorage(storage._base_dir, inst_data=storage.inst_data)
        super().__init__(**kwargs)

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        """Dagster's defaults: SQLite under the instance's folder."""
        return InstanceRef.config_defaults(base_dir)
