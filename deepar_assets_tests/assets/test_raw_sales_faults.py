"""raw_sales through Dagster on histories that used to be refused or silently accepted (#18):
a week with no sales rows (item 16), a partition far after the stored history (item 6)."""

import logging
import shutil

import dagster as dg
import numpy as np
import pandas as pd

from deepar_assets.assets.data import build_data_assets
from deepar_assets.domain.spec import load_spec
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import stored_partitions
from deepar_assets_tests.conftest import SMALL_SPEC, materialize_partitions, synthetic_range

SPEC = load_spec("synthetic")
raw_sales, encoded_series, s3_datasets = build_data_assets(SPEC)
FIRST, LAST = synthetic_range(SMALL_SPEC)
WEEKS = [f"{pd.Timestamp(FIRST) + pd.Timedelta(weeks=i):%Y-%m-%d}" for i in range(SMALL_SPEC.n_weeks)]
DATA_RUN_CONFIG = {"ops": {"s3_datasets": {"config": {"prediction_length": 4}}}}


def _failure(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    return error.cause.message if error.cause else error.message


def test_a_week_without_sales_loads_is_reported_and_encodes(tmp_path, small_source):
    """Before: "no sales rows for the partition(s) …" refused the whole history, with no way around it."""
    source = tmp_path / "source"
    shutil.copytree(small_source, source)
    gap = WEEKS[30]
    lines = (source / "train.csv").read_text().splitlines()
    (source / "train.csv").write_text("\n".join([lines[0], *[r for r in lines[1:] if r.split(",")[2] != gap]]) + "\n")
    resources = {
        "source": SalesSource(location=str(source)),
        "storage": StorageResource(location=str(tmp_path / "storage")),
    }
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_partitions(
        [raw_sales, encoded_series, s3_datasets],
        FIRST,
        LAST,
        resources=resources,
        run_config=DATA_RUN_CONFIG,
        instance=instance,
    )
    assert result.success
    warned = [r.user_message for r in instance.all_logs(result.run_id) if r.level == logging.WARNING]
    assert any(
        "1 partition(s) have no target rows in the source and are stored empty" in m and gap in m for m in warned
    )
    stored = result.asset_materializations_for_node("raw_sales")[0]  # one per partition, the same metadata
    assert stored.metadata["empty_partitions"].value == [gap]
    assert stored.metadata["commit"].value.endswith("raw/_log/0000000000.json")
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "no_empty_periods"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["first_empty_period"].value == gap and check.metadata["empty_periods"].value == 1
    encoded = result.output_for_node("encoded_series")
    column = list(encoded.periods).index(pd.Timestamp(gap))
    assert np.isnan(encoded.target[:, column]).all() and encoded.n_history == len(WEEKS)
    assert result.asset_materializations_for_node("s3_datasets")


def test_a_partition_far_after_the_history_is_refused_unless_the_run_config_allows_it(tmp_path, small_source):
    """Before: accepted and published, with an empty test channel and the missing weeks inside series."""
    resources = {
        "source": SalesSource(location=str(small_source)),
        "storage": StorageResource(location=str(tmp_path / "storage")),
    }
    assert materialize_partitions([raw_sales], WEEKS[0], WEEKS[4], resources=resources).success
    far = WEEKS[60]
    refused = dg.materialize([raw_sales], partition_key=far, resources=resources, raise_on_error=False)
    assert not refused.success
    message = _failure(refused)
    assert f"partition {far}: its first period {far} comes 55 periods after the last stored period {WEEKS[4]}" in (
        message
    )
    assert "evaluation.max_gap_periods (52)" in message and "allow_gap: true" in message
    store = FolderStore(tmp_path / "storage")
    assert stored_partitions(store, SPEC) == WEEKS[:5]

    allowed = dg.materialize(
        [raw_sales],
        partition_key=far,
        resources=resources,
        run_config={"ops": {"raw_sales": {"config": {"allow_gap": True}}}},
    )
    assert allowed.success
    assert stored_partitions(store, SPEC) == [*WEEKS[:5], far]
