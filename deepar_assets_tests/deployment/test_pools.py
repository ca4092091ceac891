"""Two heavy runs requested at once take turns in the pool deepar-training (one slot, as the
shipped instance configs say), and a data refresh requested meanwhile does not wait: separate
processes, on the SQLite instance make run uses and on PostgreSQL."""

import shutil
import subprocess
import sys
import time

import dagster as dg
import pytest

from deepar_assets.constants import TRAINING_POOL
from deepar_assets_tests.deployment.conftest import ROOT, fresh_database, postgres_home


def _times(instance: dg.DagsterInstance, asset: str) -> list[tuple[float, float]]:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=10).records
    return sorted(
        (r.asset_materialization.metadata["started"].value, r.asset_materialization.metadata["ended"].value)
        for r in records
    )


@pytest.fixture(params=["sqlite", "postgres"])
def home(request, tmp_path, monkeypatch):
    folder = tmp_path / "home"
    if request.param == "sqlite":
        folder.mkdir()
        shutil.copy(ROOT / "deploy" / "dagster.yaml", folder / "dagster.yaml")
    else:
        for name, value in fresh_database(request.getfixturevalue("postgres")).items():
            monkeypatch.setenv(name, value)
        postgres_home(folder)
    monkeypatch.setenv("DAGSTER_HOME", str(folder))
    with dg.DagsterInstance.get():  # the storage's tables, before several processes open it at once
        pass
    return folder


def test_two_heavy_runs_take_turns_in_the_pool_and_a_refresh_does_not_wait(home):
    module = "deepar_assets_tests.deployment.pool_defs"
    heavy = [
        subprocess.Popen(
            [sys.executable, "-m", module, "slow_training"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(2.5)  # both heavy runs are up; one holds the slot
    refresh = subprocess.run([sys.executable, "-m", module, "refresh"], cwd=ROOT, timeout=120)
    assert refresh.returncode == 0
    outputs = [process.communicate(timeout=120)[0] for process in heavy]
    assert [process.returncode for process in heavy] == [0, 0], outputs
    waited = [out for out in outputs if f"slow_training waits for a slot in pool {TRAINING_POOL}" in out]
    with dg.DagsterInstance.get() as instance:
        slots = instance.event_log_storage.get_concurrency_info(TRAINING_POOL)
        # the second run's terminal says why it waits
        assert len(waited) == 1, (outputs, type(instance.event_log_storage).__name__, slots)
        (first_start, first_end), (second_start, second_end) = _times(instance, "slow_training")
        [(refresh_start, refresh_end)] = _times(instance, "refresh")
        pools = instance.event_log_storage.get_concurrency_keys()
    assert TRAINING_POOL in pools
    assert second_start >= first_end, "the second heavy step started while the first held the pool's slot"
    assert refresh_end < first_end + 4, "the refresh waited for the heavy steps"
    assert refresh_start < second_start or refresh_end < second_end
