"""The landing sensor under a real ``dagster-daemon run`` on the PostgreSQL instance
(deploy/dagster-postgres.yaml), its cursor surviving a restart of the daemon process.

A tiny history is loaded into the instance, then the daemon (its own process, loading the code
location from a workspace file, as a deployment runs it) ingests a drop; the daemon is stopped
with SIGTERM, a new daemon process is started on the same instance, and:

- the drop already ingested is not requested again: the new daemon's looks start from the
  cursor the first one left in PostgreSQL and see nothing new (had the cursor been lost, the
  sensor would request the drop again, and the daemon would record that request on the tick as
  a run key it skipped);
- a new drop after the restart is requested and ingested.

The automation sensor runs in the same daemon: each ingested partition is followed by a refresh
of encoded_series and s3_datasets (the manual tuning policy trains nothing). Only the landing
sensor's runs (tagged with its name) are counted as its runs."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import dagster as dg
import pytest
import yaml
from dagster._core.scheduler.instigation import InstigatorState, InstigatorType, TickStatus

from deepar_assets.domain.synthetic import SyntheticSpec, write_dataset
from deepar_assets.replay import Holdout, drop_partitions, hold_out, write_history
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.sensors.landing import LANDING_SENSOR
from deepar_assets.storage.raw import stored_partitions
from deepar_assets_tests.conftest import materialize_partitions
from deepar_assets_tests.deployment.conftest import ROOT, fresh_database, postgres_home
from deepar_assets_tests.sensors.conftest import SPEC, encoded_series, raw_sales, s3_datasets

# TINY_SPEC's size, with the history the spec's default horizon (13 weeks) needs: the refresh the
# automation sensor launches runs with the default run config (2 × 13 + 2 weeks, and 13 weeks of
# features ahead).
DAEMON_SPEC = SyntheticSpec(n_stores=3, n_depts=4, n_weeks=33, n_future_weeks=13, seed=11)
HELD_BACK = 2
SENSOR_NAME_TAG = "dagster/sensor_name"
PARTITION_TAG = "dagster/partition"
DONE = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
T = TypeVar("T")


@pytest.fixture(scope="module")
def holdout(tmp_path_factory) -> Holdout:
    return hold_out(write_dataset(tmp_path_factory.mktemp("daemon_source"), DAEMON_SPEC), HELD_BACK, SPEC)


@dataclasses.dataclass
class Deployment:
    """One instance on PostgreSQL, the folders of the platform, and the daemons started on it."""

    root: Path
    env: dict[str, str]
    instance: dg.DagsterInstance
    holdout: Holdout
    daemons: list[subprocess.Popen] = dataclasses.field(default_factory=list)

    @property
    def source(self) -> SalesSource:
        return SalesSource(
            location=self.env["DEEPAR_SOURCE"], landing=self.env["DEEPAR_LANDING"], landing_settle_seconds=0
        )

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    def start_daemon(self) -> subprocess.Popen:
        """``dagster-daemon run`` on the workspace, as a deployment starts it: SIGINT and SIGTERM at
        their defaults (a shell that started pytest in the background may have ignored SIGINT, and
        the daemon maps SIGTERM onto SIGINT's handler), in a process group of its own so that its
        code server and the runs it launches end with it."""
        daemon = Path(sys.executable).parent / "dagster-daemon"
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                ["env", "--default-signal=INT,TERM", str(daemon), "run", "-w", str(self.root / "workspace.yaml")],
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.daemons.append(process)
        return process

    def stop_daemon(self, process: subprocess.Popen, timeout: float = 60) -> int:
        """SIGTERM, and the daemon's exit status; whatever is left of its process group is killed."""
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    raise AssertionError(
                        f"the daemon did not stop within {timeout} s of SIGTERM\n{self.log_tail()}"
                    ) from None
            return process.returncode
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # its code server, a run still going
            except ProcessLookupError:
                pass

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "daemon log:\n" + "\n".join(text.splitlines()[-lines:])

    def wait_for(self, what: str, found: Callable[[], T | None], timeout: float = 90) -> T:
        """Poll until ``found`` returns something, with a deadline; fails early if the daemon died."""
        deadline = time.monotonic() + timeout
        while True:
            value = found()
            if value:
                return value
            running = self.daemons[-1]
            if running.poll() is not None:
                raise AssertionError(f"the daemon exited ({running.returncode}) waiting for {what}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s\n{self.log_tail()}")
            time.sleep(0.5)

    def drop(self, partition: str) -> None:
        """A partition's drop (its features, then its sales), each file written whole."""
        partial = dataclasses.replace(self.holdout, partitions=[partition])
        drop_partitions(partial, self.source.landing_zone(), log=lambda line: None)

    def landing_runs(self) -> list[dg.DagsterRun]:
        """The landing sensor's runs, oldest first."""
        return list(reversed(self.instance.get_runs(filters=dg.RunsFilter(tags={SENSOR_NAME_TAG: LANDING_SENSOR}))))

    def finished_landing_run(self, partition: str) -> dg.DagsterRun | None:
        runs = [run for run in self.landing_runs() if run.tags.get(PARTITION_TAG) == partition]
        return runs[0] if runs and runs[0].status in DONE else None

    def sensor_state(self) -> InstigatorState | None:
        states = self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        return next((s for s in states if s.instigator_name == LANDING_SENSOR), None)

    def sensor_cursor(self) -> str | None:
        state = self.sensor_state()
        return state.instigator_data.cursor if state and state.instigator_data else None

    def sensor_ticks(self, after: float):
        """The landing sensor's ended ticks that started after ``after``, oldest first."""
        state = self.sensor_state()
        if state is None:
            return []
        ticks = self.instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after)
        return sorted((t for t in ticks if t.status != TickStatus.STARTED), key=lambda t: t.timestamp)

    def datasets_refreshed(self) -> int:
        """How many times s3_datasets was materialized."""
        return len(self.instance.fetch_materializations(dg.AssetKey("s3_datasets"), limit=100).records)

    def quiet(self) -> bool:
        """No run queued or going."""
        return not self.instance.get_runs(
            filters=dg.RunsFilter(statuses=[s for s in dg.DagsterRunStatus if s not in DONE])
        )


@pytest.fixture
def deployment(postgres, holdout, tmp_path, monkeypatch) -> Iterator[Deployment]:
    """The history loaded into a fresh PostgreSQL instance (raw_sales, encoded_series and
    s3_datasets, as `make run` leaves them), an empty landing folder, a workspace file naming
    the project's code location; no daemon yet. Every daemon started is stopped at the end."""
    history = write_history(holdout, tmp_path / "history")
    (tmp_path / "landing").mkdir()
    home = postgres_home(tmp_path / "dagster_home")
    workspace = {
        "load_from": [
            {
                "python_module": {
                    "module_name": "deepar_assets",
                    "working_directory": str(ROOT),
                    "executable_path": sys.executable,
                    "location_name": "deepar_assets",
                }
            }
        ]
    }
    (tmp_path / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPAR_", "DAGSTER_"))}
    env = {
        **base,
        **fresh_database(postgres),
        "DAGSTER_HOME": str(home),
        "DEEPAR_DATASET": "synthetic",
        "DEEPAR_SOURCE": str(history),
        "DEEPAR_STORAGE": str(tmp_path / "storage"),
        "DEEPAR_LANDING": str(tmp_path / "landing"),
        "DEEPAR_TUNING_POLICY": "manual",
    }
    for name, value in env.items():
        if name.startswith(("DAGSTER_", "DEEPAR_")):
            monkeypatch.setenv(name, value)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        deployment = Deployment(tmp_path, env, instance, holdout)
        weeks = sorted(holdout.history("sales")["Date"].str.strip().unique())
        loaded = materialize_partitions(
            [raw_sales, encoded_series, s3_datasets],
            weeks[0],
            weeks[-1],
            resources={"source": deployment.source, "storage": StorageResource(location=env["DEEPAR_STORAGE"])},
            instance=instance,
        )
        assert loaded.success
        try:
            yield deployment
        finally:
            for process in deployment.daemons:
                if process.poll() is None:
                    deployment.stop_daemon(process)


def test_the_landing_sensors_cursor_survives_a_restart_of_the_daemon(deployment):
    first, second = deployment.holdout.partitions
    store = StorageResource(location=deployment.env["DEEPAR_STORAGE"]).store()
    assert stored_partitions(store, SPEC)[-1] < first
    assert deployment.datasets_refreshed() == 1  # the history's

    # The first daemon ingests a drop, and the automation sensor refreshes the datasets after it.
    daemon = deployment.start_daemon()
    deployment.drop(first)
    ingested = deployment.wait_for(f"landing run of {first}", lambda: deployment.finished_landing_run(first))
    assert ingested.status == dg.DagsterRunStatus.SUCCESS, deployment.log_tail()
    deployment.wait_for("refresh after the first drop", lambda: deployment.datasets_refreshed() >= 2)
    deployment.wait_for("no run going", deployment.quiet)
    cursor = deployment.sensor_cursor()
    assert cursor is not None and {f"{first}_sales.csv", f"{first}_features.csv"} <= set(json.loads(cursor)["seen"])

    assert deployment.stop_daemon(daemon) == 0, deployment.log_tail()  # a clean stop on SIGTERM
    restarted = time.time()
    assert deployment.sensor_cursor() == cursor  # kept in PostgreSQL

    # A new daemon process: its looks start from the kept cursor and see nothing new.
    deployment.start_daemon()
    [look, *_] = deployment.wait_for(
        "a look of the landing sensor after the restart", lambda: deployment.sensor_ticks(restarted)
    )
    # Not requested again: a lost cursor requests the drop again, and the tick records its run key
    # as skipped (a run of this sensor has it), with no skip reason of the sensor's own.
    assert not look.run_keys and not look.run_ids, f"requested again after the restart: {look.run_keys}"
    assert look.status == TickStatus.SKIPPED, (look.status, look.skip_reason, look.error)
    assert (look.skip_reason or "").startswith(f"nothing new in {deployment.env['DEEPAR_LANDING']}"), look.skip_reason
    assert look.cursor == cursor
    assert [run.tags[PARTITION_TAG] for run in deployment.landing_runs()] == [first]

    # A drop after the restart is requested and ingested.
    deployment.drop(second)
    ingested_after = deployment.wait_for(f"landing run of {second}", lambda: deployment.finished_landing_run(second))
    assert ingested_after.status == dg.DagsterRunStatus.SUCCESS, deployment.log_tail()
    runs = deployment.landing_runs()
    assert [run.tags[PARTITION_TAG] for run in runs] == [first, second]
    assert runs[0].run_id == ingested.run_id and runs[0].tags["dagster/run_key"] != runs[1].tags["dagster/run_key"]
    assert stored_partitions(store, SPEC)[-2:] == [first, second]
    assert not [t for t in deployment.sensor_ticks(restarted) if set(t.run_keys) & {runs[0].tags["dagster/run_key"]}]
    seen = set(json.loads(deployment.sensor_cursor())["seen"])
    assert {f"{week}_{table}.csv" for week in (first, second) for table in ("sales", "features")} <= seen
    deployment.wait_for("refresh after the second drop", lambda: deployment.datasets_refreshed() >= 3)
    deployment.wait_for("no run going", deployment.quiet)
