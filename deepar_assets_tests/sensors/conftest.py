"""A small platform with its history loaded, a landing zone (a folder, or S3 on moto's server)
and a real Dagster instance, for the landing sensor and the automation that follows it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from deepar_assets.assets.data import build_data_assets
from deepar_assets.definitions import build_definitions
from deepar_assets.domain.spec import load_spec
from deepar_assets.domain.synthetic import SyntheticSpec, write_dataset
from deepar_assets.replay import Holdout, hold_out, write_history
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.sensors.landing import build_landing_sensor
from deepar_assets.storage.landing import LandingZone
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import stored_partitions
from deepar_assets_tests.conftest import materialize_partitions
from deepar_assets_tests.storage.conftest import s3_client

HELD_BACK = 3
# Smaller than SMALL_SPEC: every test loads its own history, and Dagster's cost is per partition.
TINY_SPEC = SyntheticSpec(n_stores=3, n_depts=4, n_weeks=26, n_future_weeks=8, seed=11)
DATA_RUN_CONFIG = {"ops": {"s3_datasets": {"config": {"prediction_length": 4}}}}
LANDING_BUCKET = "deepar-landing"
SPEC = load_spec("synthetic")  # Walmart's layout: weekly Friday partitions, sales, features and stores
DEFS = build_definitions("synthetic", "manual")  # what the automation sensor evaluates
raw_sales, encoded_series, s3_datasets = build_data_assets(SPEC)
landing_zone_sensor = build_landing_sensor(SPEC, raw_sales)


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("tiny_source"), TINY_SPEC)


@pytest.fixture(scope="session")
def holdout(tiny_source) -> Holdout:
    """The tiny source with its last partitions (weeks) held back as drops."""
    return hold_out(tiny_source, HELD_BACK, SPEC)


@pytest.fixture(scope="session")
def history(holdout, tmp_path_factory) -> Path:
    """The source without the held-back partitions (what DEEPAR_SOURCE points at in a replay)."""
    return write_history(holdout, tmp_path_factory.mktemp("history"))


@dataclass
class World:
    instance: dg.DagsterInstance
    source: SalesSource
    storage: StorageResource
    zone: LandingZone
    defs: dg.Definitions
    sensor_cursor: str | None = None
    automation_cursor: object = None
    skip_message: str | None = None

    @property
    def store(self) -> FolderStore:
        return self.storage.store()

    @property
    def resources(self) -> dict:
        return {"source": self.source, "storage": self.storage}

    def sense(self) -> list[dg.RunRequest]:
        """One look of the landing sensor, as the daemon runs it (the cursor carried over)."""
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.sensor_cursor, resources={"source": self.source}
        )
        result = landing_zone_sensor(context)
        if isinstance(result, dg.SkipReason):  # e.g. the landing folder does not exist yet
            self.skip_message = result.skip_message
            return []
        self.sensor_cursor = result.cursor
        self.skip_message = result.skip_reason.skip_message if result.skip_reason else None
        return list(result.run_requests or [])

    def run(self, request: dg.RunRequest, **kwargs) -> dg.ExecuteInProcessResult:
        """The run a request asks for: its partition of raw_sales, with its tags."""
        return dg.materialize(
            [raw_sales],
            partition_key=request.partition_key,
            tags=request.tags,
            resources=self.resources,
            instance=self.instance,
            **kwargs,
        )

    def automate(self) -> set[str]:
        """One tick of the automation sensor: the asset keys it requests."""
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.automation_cursor
        )
        self.automation_cursor = result.cursor
        return {r.key.to_user_string() for r in result.results if not r.true_subset.is_empty}

    def refresh(self) -> dg.ExecuteInProcessResult:
        """What the automation sensor launches after a new partition: encoded_series and s3_datasets."""
        return dg.materialize(
            [encoded_series, s3_datasets], resources=self.resources, instance=self.instance, run_config=DATA_RUN_CONFIG
        )

    def partitions(self) -> list[str]:
        return stored_partitions(self.store, SPEC)

    def dataset_versions(self) -> list[str]:
        return sorted(k.split("/")[1] for k in self.store.list_keys("datasets/") if k.endswith("/manifest.json"))


def _world(tmp_path: Path, holdout: Holdout, history: Path, landing: str) -> Iterator[World]:
    # Drops are written whole (a temporary name, then a rename; S3): no need to let them settle.
    source = SalesSource(location=str(history), landing=landing, landing_settle_seconds=0)
    storage = StorageResource(location=str(tmp_path / "storage"))
    # The instance's SQLite files in memory when /dev/shm exists: its writes are what takes time.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm) as home, dg.instance_for_test(temp_dir=home) as instance:
        weeks = sorted(holdout.history("sales")["Date"].str.strip().unique())
        result = materialize_partitions(
            [raw_sales, encoded_series, s3_datasets],
            weeks[0],
            weeks[-1],
            resources={"source": source, "storage": storage},
            instance=instance,
            run_config=DATA_RUN_CONFIG,
        )
        assert result.success
        world = World(instance, source, storage, source.landing_zone(), DEFS)
        assert world.automate() == set()  # the automation sensor's first tick: nothing to do
        yield world


@pytest.fixture
def world(tmp_path, holdout, history) -> Iterator[World]:
    """History loaded, an empty landing folder, the sensors not run yet."""
    yield from _world(tmp_path, holdout, history, str(tmp_path / "landing"))


@pytest.fixture
def s3_world(tmp_path, holdout, history, aws_env) -> Iterator[World]:
    """The same with the landing zone on S3 (moto's server over HTTP)."""
    s3_client().create_bucket(Bucket=LANDING_BUCKET)
    yield from _world(tmp_path, holdout, history, f"s3://{LANDING_BUCKET}/incoming")
