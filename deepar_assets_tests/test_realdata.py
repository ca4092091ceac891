"""The quick graph on the original Kaggle files, when ../shared/data/walmart is present."""

from pathlib import Path

import dagster as dg
import numpy as np
import pytest
import yaml

from deepar_assets.definitions import ASSETS
from deepar_assets.engines.local import LocalEngine
from deepar_assets.resources.source import SalesSource
from deepar_assets.resources.storage import StorageResource
from deepar_assets.resources.training import TrainingResource
from deepar_assets.storage.local import FolderStore
from deepar_assets_tests.conftest import REAL_DATA, materialize_weeks

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not (REAL_DATA / "train.csv.gz").exists(), reason=f"no Kaggle data in {REAL_DATA}"),
]


def _metadata(result, key):
    """The metadata of an asset's materialization in a run (a range run of raw_sales records
    one materialization per week, all with the run's metadata)."""
    events = result.asset_materializations_for_node(key)
    assert events, f"{key} was not materialized"
    return {k: v.value for k, v in events[-1].metadata.items()}


def test_quick_graph_on_the_walmart_files(tmp_path):
    resources = {
        "source": SalesSource(location=str(REAL_DATA)),
        "storage": StorageResource(location=str(tmp_path / "storage")),
        "training": TrainingResource(work_dir=str(tmp_path / "work")),
    }
    run_config = yaml.safe_load((ROOT / "configs" / "quick.yaml").read_text())
    result = materialize_weeks(
        ASSETS,
        "2010-02-05",
        "2012-10-26",
        resources=resources,
        run_config=run_config,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success

    raw = _metadata(result, "raw_sales")
    assert (raw["rows"], raw["stores"], raw["departments"], raw["series"]) == (421_570, 45, 81, 3_331)
    assert raw["negative_sales_rows"] == 1_285
    assert (raw["first_week"], raw["last_week"], raw["weeks"]) == ("2010-02-05", "2012-10-26", 143)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert all(c.passed for c in checks.values()), {n: c.metadata for n, c in checks.items() if not c.passed}
    assert checks["negative_sales_share"].metadata["negative_rows"].value == 1_285

    datasets = _metadata(result, "s3_datasets")
    assert datasets["validation_last_week"] == "2012-10-26"
    assert datasets["test_last_week"] == "2012-07-27"  # T - 13 weeks
    assert datasets["train_last_week"] == "2012-04-27"  # T - 26 weeks
    # Every series with all 143 weeks (2,660 of them) is in every channel.
    for channel in ("train", "test", "validation"):
        assert 2_660 <= datasets[f"{channel}_series"] <= 3_331

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
    assert forecast["p50"].shape == actual.shape == (len(validation), 13)
    assert np.isfinite(forecast["mean"]).all()
    assert scores["test:mean_wQuantileLoss"] == pytest.approx(model["validation:mean_wQuantileLoss"])
