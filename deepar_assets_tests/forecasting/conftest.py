"""Fixtures of the forecasting tests: sources whose outcome against seasonal naive is known by
construction, a run config that trains a small but real model, and the whole graph
materialized once per session on each source."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from deepar_assets.assets import build_assets
from deepar_assets.assets.forecasting import FORECASTING_CHECKS
from deepar_assets.domain.spec import load_spec
from deepar_assets.domain.synthetic import write_dataset
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets_tests.conftest import SMALL_SPEC, materialize_weeks, week_range

GRAPH = [*build_assets(load_spec("synthetic")), *FORECASTING_CHECKS]
H = 4
LABOR_DAY_2011 = "2011-09-09"  # a holiday week inside the forecast horizon of SMALL_SPEC with h = 4

# One trial of fixed, small hyperparameters: enough for DeepAR to learn the level of the
# series (a few seconds of training), so the outcome against seasonal naive is decided by the
# data, not by luck in the search.
GOOD_TRAINING = {
    "max_trials": 1,
    "seed": 5,
    "num_batches_per_epoch": 8,
    "num_eval_samples": 20,
    "search_space": {
        "epochs": {"min_value": 3, "max_value": 3},
        "context_length": {"min_value": 8, "max_value": 8},
        "num_cells": {"min_value": 16, "max_value": 16},
        "num_layers": {"min_value": 1, "max_value": 1},
        "mini_batch_size": {"min_value": 32, "max_value": 32},
        "learning_rate": {"min_value": 0.01, "max_value": 0.01},
        "dropout_rate": {"min_value": 0.0, "max_value": 0.0},
        "embedding_dimension": {"min_value": 4, "max_value": 4},
        "likelihood": ["student-T"],
    },
}


def run_config(**ops) -> dict:
    return {
        "ops": {
            "s3_datasets": {"config": {"prediction_length": H}},
            "tuning_run": {"config": GOOD_TRAINING},
            **{name: {"config": config} for name, config in ops.items()},
        }
    }


def _rewrite_sales(folder: Path, change) -> Path:
    sales = pd.read_csv(folder / "train.csv")
    dates = pd.to_datetime(sales["Date"])
    sales["Weekly_Sales"] = change(sales, dates)
    sales.to_csv(folder / "train.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def grown_source(tmp_path_factory) -> Path:
    """SMALL_SPEC, where every series sold a tenth of today's level during its first 56 weeks
    (the stores grew tenfold a year ago): last year's week is a poor guess of this year's, so a
    model that learns the current level beats seasonal naive by far."""
    folder = write_dataset(tmp_path_factory.mktemp("grown_source"), SMALL_SPEC)

    def change(sales, dates):
        early = dates < dates.min() + pd.Timedelta(weeks=56)
        return sales["Weekly_Sales"].where(~early, sales["Weekly_Sales"] * 0.1)

    return _rewrite_sales(folder, change)


@pytest.fixture(scope="session")
def periodic_source(tmp_path_factory) -> Path:
    """SMALL_SPEC, where every series repeats itself 52 weeks later, up to 0.5 % of noise:
    seasonal naive is nearly perfect, and no model can beat it. (Exactly periodic series would
    leave MASE undefined, which the local engine's validation report refuses.)"""
    folder = write_dataset(tmp_path_factory.mktemp("periodic_source"), SMALL_SPEC)

    def change(sales, dates):
        week = ((dates - dates.min()).dt.days // 7) % 52
        reference = sales.assign(week=week.to_numpy(), year=((dates - dates.min()).dt.days // 7 // 52).to_numpy())
        first = reference[reference["year"] == 0].set_index(["Store", "Dept", "week"])["Weekly_Sales"]
        looked_up = first.reindex(pd.MultiIndex.from_frame(reference[["Store", "Dept", "week"]])).to_numpy()
        noise = 1 + 0.005 * np.random.default_rng(11).standard_normal(len(sales))
        return pd.Series(looked_up * noise, index=sales.index).fillna(sales["Weekly_Sales"])

    return _rewrite_sales(folder, change)


def resources(tmp_path: Path, source: Path, dataset: str = "synthetic") -> dict:
    return {
        "source": SalesSource(dataset=dataset, location=str(source)),
        "storage": StorageResource(location=str(tmp_path / "storage")),
        "training": TrainingResource(work_dir=str(tmp_path / "work"), study_db=str(tmp_path / "studies.db")),
    }


def metadata(result, key: str) -> dict:
    events = result.asset_materializations_for_node(key)
    assert events, f"{key} was not materialized"
    return {k: v.value for k, v in events[-1].metadata.items()}


def materialize_graph(
    tmp_path: Path, source: Path, instance: dg.DagsterInstance, config: dict, raise_on_error: bool = True
):
    return materialize_weeks(
        GRAPH,
        *week_range(SMALL_SPEC),
        resources=resources(tmp_path, source),
        run_config=config,
        instance=instance,
        raise_on_error=raise_on_error,
    )
