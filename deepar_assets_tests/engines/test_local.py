"""The local engine on a tiny dataset: real GluonTS training with tiny budgets."""

import json

import numpy as np
import pytest

from deepar_assets.domain.encoding import encode
from deepar_assets.domain.hyperparameters import CategoricalRange, ContinuousRange, IntegerRange
from deepar_assets.domain.kaggle import read_kaggle
from deepar_assets.engines.base import TuningSettings
from deepar_assets.engines.local import LocalEngine, to_gluonts_entries
from deepar_assets.errors import ConfigurationError, TrainingError
from deepar_assets.storage.datasets import publish_dataset
from deepar_assets.storage.local import FolderStore

TINY_SPACE = {
    "epochs": IntegerRange(1, 2),
    "context_length": IntegerRange(4, 8),
    "num_cells": IntegerRange(8, 16),
    "num_layers": IntegerRange(1, 2),
    "learning_rate": ContinuousRange(1e-3, 1e-2, "Logarithmic"),
    "dropout_rate": ContinuousRange(0.0, 0.1),
    "mini_batch_size": IntegerRange(16, 32),
    "embedding_dimension": IntegerRange(2, 4),
    "likelihood": CategoricalRange(("student-T", "gaussian")),
}
TINY = TuningSettings(max_trials=2, seed=3, num_batches_per_epoch=4, num_eval_samples=20)


@pytest.fixture
def setup(tmp_path, small_source):
    store = FolderStore(tmp_path / "storage")
    dataset = publish_dataset(store, encode(read_kaggle(small_source)), prediction_length=4).ref
    return LocalEngine(store, tmp_path / "work"), dataset, store


def test_entries_map_deepar_fields_to_gluonts(setup):
    engine, dataset, _ = setup
    records = engine.read_channel(dataset, "test")
    entries = to_gluonts_entries(records, dataset.freq, cut=4)
    for record, entry in zip(records, entries, strict=True):
        assert len(entry["target"]) == len(record["target"]) - 4
        assert entry["feat_dynamic_real"].shape == (len(dataset.dynamic_feat), len(record["target"]))
        assert list(entry["feat_static_cat"]) == record["cat"]
        assert str(entry["start"].freq.freqstr) == "W-FRI"
    assert any(np.isnan(r["target"]).any() for r in records), "the small dataset has missing weeks"


def test_tune_register_reload_forecast(setup, tmp_path):
    engine, dataset, store = setup
    lines = []
    result = engine.tune(dataset, TINY_SPACE, TINY, lines.append)
    assert [t.number for t in result.trials] == [1, 2]
    assert len(lines) == 2 and lines[0].startswith("trial 1/2 ") and "best=" in lines[1]
    for trial in result.trials:
        assert trial.state == "COMPLETE", trial.error
        assert set(trial.hyperparameters) == set(TINY_SPACE)
        assert 0 < trial.objective < 10
        assert trial.metrics["test:mean_wQuantileLoss"] == trial.objective
        assert trial.metrics["test:RMSE"] > 0
    best = result.best()
    assert best.objective == min(t.objective for t in result.trials)

    model = engine.register_best(result, lines.append)
    card = json.loads(store.get_bytes(f"models/{model.model_id}/model.json"))
    assert card["data_version"] == dataset.version
    assert card["hyperparameters"] == best.hyperparameters
    assert card["objective"] == {"name": "test:mean_wQuantileLoss", "value": best.objective, "trial": best.number}
    assert card["seed"] == TINY.seed
    assert card["library_versions"]["gluonts"].startswith("0.17")
    assert card["validation_metrics"]["validation:mean_wQuantileLoss"] > 0

    # The saved model loads and forecasts every validation series exactly as the model that
    # was scored (same seed, same samples, same metrics).
    reloaded = engine.load(model.model_id)
    validation = engine.read_channel(dataset, "validation")
    scores, forecast, _ = engine.evaluate(reloaded, dataset, validation, seed=TINY.seed)
    assert scores["test:mean_wQuantileLoss"] == pytest.approx(card["validation_metrics"]["validation:mean_wQuantileLoss"])
    assert forecast["mean"].shape == (len(validation), dataset.prediction_length)
    assert np.all(forecast["p10"] <= forecast["p90"])
    assert np.isfinite(forecast["mean"]).all()
    # Forecasting past the last week needs the features of the weeks ahead.
    with pytest.raises(TrainingError, match="dynamic_feat covers"):
        engine.forecast(reloaded, dataset, validation, seed=5, cut=0)
    # Nothing is left in the scratch space, and nothing lands in the working directory.
    assert list((tmp_path / "work").iterdir()) == []


def test_same_seed_same_trials(setup):
    engine, dataset, _ = setup
    settings = TuningSettings(max_trials=1, seed=11, num_batches_per_epoch=3, num_eval_samples=10)
    first = engine.tune(dataset, TINY_SPACE, settings, lambda _: None).trials[0]
    second = engine.tune(dataset, TINY_SPACE, settings, lambda _: None).trials[0]
    assert first.hyperparameters == second.hyperparameters
    assert first.objective == pytest.approx(second.objective, rel=1e-6)


def test_unsupported_likelihood_fails_the_trial_with_the_reason(setup):
    engine, dataset, _ = setup
    space = {**TINY_SPACE, "likelihood": CategoricalRange(("deterministic-L1",))}
    settings = TuningSettings(max_trials=1, seed=1, num_batches_per_epoch=2, num_eval_samples=10)
    result = engine.tune(dataset, space, settings, lambda _: None)
    assert result.trials[0].state == "FAIL"
    assert "deterministic-L1" in result.trials[0].error
    with pytest.raises(TrainingError, match="no trial .* completed"):
        result.best()


def test_bad_space_is_refused_before_training(setup):
    engine, dataset, _ = setup
    with pytest.raises(ConfigurationError, match="num_layers"):
        engine.tune(dataset, {**TINY_SPACE, "num_layers": IntegerRange(1, 9)}, TINY, lambda _: None)
