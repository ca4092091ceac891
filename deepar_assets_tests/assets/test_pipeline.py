"""The whole graph, in process, on a small generated dataset of the synthetic spec (Walmart's
layout), with real (tiny) training; and the data assets on small sources of other shapes."""

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from deepar_assets.assets import pipeline_assets
from deepar_assets.assets.data import build_data_assets
from deepar_assets.domain.checks import RAW_CHECKS
from deepar_assets.domain.spec import load_spec
from deepar_assets.domain.synthetic import SyntheticSpec
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import read_stored
from deepar_assets_tests.conftest import SMALL_SPEC, materialize_partitions, synthetic_range

SPEC = load_spec("synthetic")
ASSETS = pipeline_assets(SPEC)
raw_sales = ASSETS[0]

ROOT = Path(__file__).resolve().parents[2]

TINY_RUN_CONFIG = {
    "ops": {
        "s3_datasets": {"config": {"prediction_length": 4}},
        "tuning_run": {
            "config": {
                "max_trials": 2,
                "seed": 5,
                "num_batches_per_epoch": 4,
                "num_eval_samples": 20,
                "search_space": {
                    "epochs": {"min_value": 1, "max_value": 2},
                    "context_length": {"min_value": 4, "max_value": 8},
                    "num_cells": {"min_value": 8, "max_value": 16},
                    "num_layers": {"min_value": 1, "max_value": 1},
                    "mini_batch_size": {"min_value": 16, "max_value": 32},
                },
            }
        },
    }
}


def _resources(tmp_path: Path, **source) -> dict:
    return {
        "source": SalesSource(synthetic_dir=str(tmp_path / "synthetic"), **source),
        "storage": StorageResource(location=str(tmp_path / "storage")),
        "training": TrainingResource(work_dir=str(tmp_path / "work"), study_db=str(tmp_path / "optuna.db")),
    }


def _metadata(result, key: str) -> dict:
    """The metadata of an asset's materialization in a run (a range run of raw_sales records
    one materialization per partition, all with the run's metadata)."""
    events = result.asset_materializations_for_node(key)
    assert events, f"{key} was not materialized"
    return {k: v.value for k, v in events[-1].metadata.items()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("pipeline")
    resources = _resources(
        tmp_path,
        synthetic_stores=SMALL_SPEC.n_stores,
        synthetic_depts=SMALL_SPEC.n_depts,
        synthetic_weeks=SMALL_SPEC.n_weeks,
        synthetic_seed=SMALL_SPEC.seed,
    )
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_partitions(
        ASSETS, *synthetic_range(SMALL_SPEC), resources=resources, run_config=TINY_RUN_CONFIG, instance=instance
    )
    return tmp_path, result, instance


def test_whole_graph_materializes(run):
    tmp_path, result, _ = run
    assert result.success
    raw = _metadata(result, "raw_sales")
    assert raw["source_kind"] == "synthetic" and raw["dataset"] == "synthetic"
    assert raw["id_values"] == {"Store": SMALL_SPEC.n_stores, "Dept": SMALL_SPEC.n_depts}
    assert raw["partitions"] == SMALL_SPEC.n_weeks == len(result.asset_materializations_for_node("raw_sales"))
    assert (raw["first_partition"], raw["last_partition"]) == synthetic_range(SMALL_SPEC)
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} == set(RAW_CHECKS)
    assert all(c.passed for c in checks), [(c.check_name, c.metadata) for c in checks if not c.passed]
    encoded = _metadata(result, "encoded_series")
    assert encoded["series"] == raw["series"]
    assert encoded["future_feature_periods"] == SyntheticSpec().n_future_weeks  # the source keeps the default
    assert encoded["total_target"].startswith("![Total Weekly_Sales per period](data:image/png;base64,")
    audit = encoded["covariate_audit"]  # every feature the training channel does not cover, and what was done
    assert [c.name for c in audit.schema.columns][:3] == ["feature", "finding", "action"]
    assert encoded["features_clipped"] == sum(r.data["action"] == "clip" for r in audit.records)
    preview = encoded["preview"]
    assert len(preview.records) == min(10, encoded["series"])
    assert [c.name for c in preview.schema.columns][:3] == ["Store", "Dept", "Type"]
    datasets = _metadata(result, "s3_datasets")
    store = FolderStore(tmp_path / "storage")
    version = datasets["version"]
    for channel in ("train", "test", "validation"):
        lines = store.get_bytes(f"datasets/{version}/{channel}/data.json").splitlines()
        assert len(lines) == datasets[f"{channel}_series"] > 0
        record = json.loads(lines[0])
        assert set(record) == {"start", "target", "cat", "dynamic_feat"}
        assert len(record["dynamic_feat"][0]) == len(record["target"])
    assert store.exists(f"datasets/{version}/manifest.json")

    tuning = _metadata(result, "tuning_run")
    assert tuning["trials_completed"] == 2
    table = tuning["trials"]
    assert len(table.records) == 2
    assert {"trial", "state", "test:mean_wQuantileLoss", "duration_s", "epochs", "likelihood"} <= {
        c.name for c in table.schema.columns
    }

    model = _metadata(result, "best_model")
    card = json.loads((Path(model["model_uri"]) / "model.json").read_text())
    assert card["model_id"] == model["model_id"]
    assert card["data_version"] == version
    assert card["objective"]["value"] == pytest.approx(tuning["best_objective"])
    assert (Path(model["model_uri"]) / "predictor" / "prediction-net-state.pt").is_file()


def test_training_leaves_no_stray_files(run):
    tmp_path, _, _ = run
    assert list((tmp_path / "work").iterdir()) == []
    assert not (ROOT / "lightning_logs").exists() and not (ROOT / "checkpoints").exists()


def test_same_data_same_dataset_version(run, tmp_path):
    first_tmp, first, _ = run
    again = materialize_partitions(
        ASSETS[:3],
        *synthetic_range(SMALL_SPEC),
        resources={
            **_resources(first_tmp, synthetic_stores=3, synthetic_depts=5, synthetic_weeks=80, synthetic_seed=7)
        },
        run_config={"ops": {"s3_datasets": {"config": {"prediction_length": 4}}}},
    )
    assert _metadata(again, "s3_datasets")["version"] == _metadata(first, "s3_datasets")["version"]
    assert _metadata(again, "s3_datasets")["objects_uploaded"] == 0


def test_run_configs_are_valid_for_the_job():
    job = dg.Definitions(
        assets=ASSETS, resources=_resources(Path("/nonexistent"))
    ).resolve_implicit_global_asset_job_def()
    for name in ("quick.yaml", "full.yaml"):
        config = yaml.safe_load((ROOT / "configs" / name).read_text())
        assert dg.validate_run_config(job, config), name
    quick = yaml.safe_load((ROOT / "configs" / "quick.yaml").read_text())
    assert quick["ops"]["tuning_run"]["config"]["max_trials"] <= 5
    full = yaml.safe_load((ROOT / "configs" / "full.yaml").read_text())
    assert full["ops"]["tuning_run"]["config"]["max_trials"] == 20


def test_bad_source_fails_the_run_and_keeps_stored_partitions(tmp_path, small_source):
    """raw_sales validates everything before storing: a bad file fails the run with an error
    that names it, and the partitions already stored stay exactly as they were."""
    import shutil

    good = tmp_path / "good"
    shutil.copytree(small_source, good)
    storage = StorageResource(location=str(tmp_path / "storage"))
    resources = {"source": SalesSource(location=str(good)), "storage": storage}
    first, _ = synthetic_range(SMALL_SPEC)
    assert materialize_partitions([raw_sales], first, "2010-04-09", resources=resources).success
    store = FolderStore(tmp_path / "storage")
    before = {key: store.get_bytes(key) for key in store.list_keys()}
    assert len([k for k in before if k.startswith("raw/sales/")]) == 10

    bad = tmp_path / "bad"
    shutil.copytree(small_source, bad)
    lines = (bad / "train.csv").read_text().splitlines()
    fields = lines[5].split(",")
    fields[3] = "lots"
    lines[5] = ",".join(fields)
    (bad / "train.csv").write_text("\n".join(lines) + "\n")
    result = materialize_partitions(
        [raw_sales],
        "2010-04-16",
        "2010-05-14",
        resources={**resources, "source": SalesSource(location=str(bad))},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = (
        failure.step_failure_data.error.cause.message
        if failure.step_failure_data.error.cause
        else failure.step_failure_data.error.message
    )
    assert "train.csv, line 6, column Weekly_Sales: found 'lots', expected a number" in message
    assert {key: store.get_bytes(key) for key in store.list_keys()} == before


def test_rematerializing_a_partition_does_not_duplicate_rows(tmp_path, small_source):
    resources = {
        "source": SalesSource(location=str(small_source)),
        "storage": StorageResource(location=str(tmp_path / "s")),
    }
    first, last = synthetic_range(SMALL_SPEC)
    assert materialize_partitions([raw_sales], first, last, resources=resources).success
    rows = len(read_stored(FolderStore(tmp_path / "s"), SPEC).target)
    assert dg.materialize([raw_sales], partition_key="2010-03-05", resources=resources).success
    again = read_stored(FolderStore(tmp_path / "s"), SPEC).target
    assert len(again) == rows
    assert not again.duplicated(["Store", "Dept", "Date"]).any()


def test_a_source_of_another_spec_is_refused_by_assets_built_for_this_one(tmp_path, small_source):
    resources = {
        "source": SalesSource(location=str(small_source), dataset="walmart"),  # same layout, another spec
        "storage": StorageResource(location=str(tmp_path / "s")),
    }
    result = dg.materialize([raw_sales], partition_key="2010-03-05", resources=resources, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    message = error.cause.message if error.cause else error.message
    assert "the source reads the dataset spec walmart" in message and "was loaded with synthetic" in message


def _daily(folder: Path) -> tuple[str, str, int]:
    """store_item_demand's layout: 2 stores x 3 items, daily from 2013-01-01 for 120 days."""
    days = pd.date_range("2013-01-01", periods=120, freq="D")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        [
            (f"{d:%Y-%m-%d}", s, i, int(rng.poisson(10 + 5 * (d.dayofweek >= 5))))
            for d in days
            for s in (1, 2)
            for i in (1, 2, 3)
        ],
        columns=["date", "store", "item", "sales"],
    )
    frame.to_csv(folder / "train.csv", index=False)
    return "2012-12-31", "2013-04-29", 6  # the Mondays starting the weeks of the first and last day


def _monthly(folder: Path) -> tuple[str, str, int]:
    """aus_retail's layout: string ids, monthly (MS) from 1982-04 for 60 months, an ignored column."""
    months = pd.date_range("1982-04-01", periods=60, freq="MS")
    rows = []
    for s, state in enumerate(("Victoria", "Tasmania")):
        for k, industry in enumerate(("Food retailing", "Clothing, footwear and personal accessory retailing")):
            for m, month in enumerate(months):
                rows.append(
                    (state, industry, f"A{s}{k}", f"{month:%Y-%m-%d}", 100 + 10 * k + m + 5 * (month.month == 12))
                )
    frame = pd.DataFrame(rows, columns=["State", "Industry", "Series ID", "Month", "Turnover"])
    frame.to_csv(folder / "aus_retail.csv.gz", index=False)
    return "1982-04-01", "1987-03-01", 4


@pytest.mark.parametrize("dataset, write", [("store_item_demand", _daily), ("aus_retail", _monthly)])
def test_the_data_assets_of_a_daily_and_a_monthly_spec(tmp_path, dataset, write):
    """raw_sales partitioned as the spec says (daily data in weekly partitions; months), then
    encoded_series and s3_datasets with the spec's horizon."""
    spec = load_spec(dataset)
    source = tmp_path / "source"
    source.mkdir()
    first, last, n_series = write(source)
    resources = {
        "source": SalesSource(location=str(source), dataset=dataset),
        "storage": StorageResource(location=str(tmp_path / "storage")),
    }
    result = materialize_partitions(build_data_assets(spec), first, last, resources=resources)
    assert result.success
    raw = _metadata(result, "raw_sales")
    assert raw["dataset"] == dataset and (raw["first_partition"], raw["last_partition"]) == (first, last)
    assert raw["series"] == n_series and set(raw["id_values"]) == set(spec.ids)
    stored = read_stored(FolderStore(tmp_path / "storage"), spec)
    assert len(stored.target) == len(pd.read_csv(next(source.iterdir())))  # every row, in its partition
    encoded = _metadata(result, "encoded_series")
    assert encoded["series"] == n_series
    assert [c.name for c in encoded["preview"].schema.columns][: len(spec.ids)] == spec.ids
    datasets = _metadata(result, "s3_datasets")
    assert datasets["prediction_length"] == spec.prediction_length
    assert datasets["validation_last_period"] == encoded["last_period"]
