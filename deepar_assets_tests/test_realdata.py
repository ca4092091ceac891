"""The quick graph on the real files in ../shared/data, for each shipped spec whose data is
present: Walmart's Kaggle files (weekly, covariates, store attributes) and the ABS monthly
retail turnover (string ids, ragged starts, no covariates)."""

from pathlib import Path

import dagster as dg
import numpy as np
import pytest
import yaml

from deepar_assets.assets import pipeline_assets
from deepar_assets.domain.spec import load_spec
from deepar_assets.engines.local import LocalEngine
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.local import FolderStore
from deepar_assets_tests.conftest import REAL_DATA, materialize_weeks

ROOT = Path(__file__).resolve().parents[1]
SHARED = REAL_DATA.parent

pytestmark = [pytest.mark.realdata]


def _metadata(result, key):
    """The metadata of an asset's materialization in a run (a range run of raw_sales records
    one materialization per partition, all with the run's metadata)."""
    events = result.asset_materializations_for_node(key)
    assert events, f"{key} was not materialized"
    return {k: v.value for k, v in events[-1].metadata.items()}


def _quick_graph(tmp_path, dataset: str, first: str, last: str):
    folder = SHARED / dataset
    if not folder.is_dir():
        pytest.skip(f"no {dataset} data in {folder}")
    spec = load_spec(dataset)
    resources = {
        "source": SalesSource(location=str(folder), dataset=dataset),
        "storage": StorageResource(location=str(tmp_path / "storage")),
        "training": TrainingResource(work_dir=str(tmp_path / "work")),
    }
    run_config = yaml.safe_load((ROOT / "configs" / "quick.yaml").read_text())
    run_config["ops"].pop("combination")  # the pipeline up to best_model: no forecasting assets here
    result = materialize_weeks(
        pipeline_assets(spec),
        first,
        last,
        resources=resources,
        run_config=run_config,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return spec, result, run_config


def _check_model(tmp_path, result, spec, run_config):
    datasets = _metadata(result, "s3_datasets")
    tuning = _metadata(result, "tuning_run")
    assert tuning["trials_completed"] == run_config["ops"]["tuning_run"]["config"]["max_trials"]
    assert 0 < tuning["best_objective"] < 1

    model = _metadata(result, "best_model")
    engine = LocalEngine(FolderStore(tmp_path / "storage"), tmp_path / "work")
    predictor = engine.load(model["model_id"], which="evaluated_predictor")
    ref = result.output_for_node("s3_datasets")
    validation = engine.read_channel(ref, "validation")
    assert len(validation) == datasets["validation_series"]
    scores, forecast, actual = engine.evaluate(predictor, ref, validation, seed=42)
    assert forecast["p50"].shape == actual.shape == (len(validation), spec.prediction_length)
    assert np.isfinite(forecast["mean"]).all()
    assert scores["test:mean_wQuantileLoss"] == pytest.approx(model["validation:mean_wQuantileLoss"])
    return datasets, model


def test_quick_graph_on_the_walmart_files(tmp_path):
    if not (REAL_DATA / "train.csv.gz").exists():
        pytest.skip(f"no Kaggle data in {REAL_DATA}")
    spec, result, run_config = _quick_graph(tmp_path, "walmart", "2010-02-05", "2012-10-26")

    raw = _metadata(result, "raw_sales")
    assert (raw["rows"], raw["series"]) == (421_570, 3_331)
    assert raw["id_values"] == {"Store": 45, "Dept": 81}
    assert raw["negative_target_rows"] == 1_285
    assert (raw["first_period"], raw["last_period"], raw["partitions"]) == ("2010-02-05", "2012-10-26", 143)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert all(c.passed for c in checks.values()), {n: c.metadata for n, c in checks.items() if not c.passed}
    assert checks["negative_target_share"].metadata["negative_rows"].value == 1_285

    datasets, _ = _check_model(tmp_path, result, spec, run_config)
    assert datasets["validation_last_period"] == "2012-10-26"
    assert datasets["test_last_period"] == "2012-07-27"  # T - 13 weeks
    assert datasets["train_last_period"] == "2012-04-27"  # T - 26 weeks
    # Every series with all 143 weeks (2,660 of them) is in every channel.
    for channel in ("train", "test", "validation"):
        assert 2_660 <= datasets[f"{channel}_series"] <= 3_331


def test_quick_graph_on_the_australian_retail_turnover(tmp_path):
    """Monthly, string ids, no covariates: the same graph through its spec alone."""
    spec, result, run_config = _quick_graph(tmp_path, "aus_retail", "1982-04-01", "2018-12-01")

    raw = _metadata(result, "raw_sales")
    assert (raw["rows"], raw["series"]) == (64_532, 152)
    assert (raw["first_period"], raw["last_period"]) == ("1982-04-01", "2018-12-01")
    assert raw["partitions"] == 441  # one per month, 1982-04 .. 2018-12

    datasets, model = _check_model(tmp_path, result, spec, run_config)
    assert datasets["prediction_length"] == 12
    assert datasets["validation_last_period"] == "2018-12-01"
    assert datasets["test_last_period"] == "2017-12-01"  # T - 12 months
    assert datasets["train_last_period"] == "2016-12-01"  # T - 24 months
    # 148 series reach 2018-12; the 4 that end early (2010-02, 2013-06) have nothing to score.
    assert datasets["validation_series"] == 148
    encoded = result.output_for_node("encoded_series")
    assert [c.name for c in encoded.encoding.cat] == ["State", "Industry"]
    assert "Victoria" in encoded.encoding.cat[0].values
    assert encoded.encoding.freq == "MS" and encoded.encoding.season_length == 12
