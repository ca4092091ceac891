"""The local engine on a tiny dataset: real GluonTS training with tiny budgets."""

import json

import numpy as np
import pytest
import torch

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
    assert set(card["validation_metrics"]) == {
        "validation:WMAE",
        "validation:mean_wQuantileLoss",
        "validation:RMSE",
        "validation:MASE",
    }
    assert set(card["seasonal_naive_validation_metrics"]) == set(card["validation_metrics"])
    assert card["trained_on"].startswith("validation channel")

    # Validation forecasts, decoded to Store/Dept, one row per series and week.
    import io

    import pandas as pd

    frame = pd.read_csv(io.BytesIO(store.get_bytes(f"models/{model.model_id}/validation_forecasts.csv")))
    assert list(frame.columns) == ["Store", "Dept", "Date", "mean", *[f"p{q}" for q in range(10, 100, 10)]]
    validation = engine.read_channel(dataset, "validation")
    assert len(frame) == len(validation) * dataset.prediction_length
    assert frame["Date"].max() == dataset.last_week
    assert (frame["p10"] <= frame["p90"]).all()

    # The scored model loads and forecasts every validation series exactly as when it was
    # scored (same seed, same samples, same metrics); the forecasting model loads too.
    reloaded = engine.load(model.model_id, which="evaluated_predictor")
    assert engine.load(model.model_id) is not None
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


def test_resume_continues_the_study_without_redoing_trials(setup, tmp_path):
    """Stop after k trials, run again with a budget of N: only N - k trials train."""
    _, dataset, store = setup
    engine = LocalEngine(store, tmp_path / "work", study_db=tmp_path / "optuna" / "studies.db")
    first = engine.tune(dataset, TINY_SPACE, TINY, lambda _: None)
    assert [t.number for t in first.trials] == [1, 2]
    lines = []
    more = TuningSettings(**{**TINY.__dict__, "max_trials": 3})
    second = engine.tune(dataset, TINY_SPACE, more, lines.append)
    assert second.run_id == first.run_id
    assert lines[0].startswith(f"resuming {first.run_id}: 2 of 3 trials already done")
    assert [line for line in lines if line.startswith("trial ")] == [lines[-1]] and lines[-1].startswith("trial 3/3")
    assert [(t.hyperparameters, t.objective) for t in second.trials[:2]] == [
        (t.hyperparameters, t.objective) for t in first.trials
    ]
    # The whole budget done: a third call trains nothing.
    again = engine.tune(dataset, TINY_SPACE, more, lines.append)
    assert len(again.trials) == 3 and not lines[-1].startswith("trial ")


def test_epoch_callback_stops_training(setup):
    """The pruning hook: the held-out loss is reported after every epoch, and True stops."""
    engine, dataset, _ = setup
    train, test = engine.read_channel(dataset, "train"), engine.read_channel(dataset, "test")
    hp = {**{k: r.min_value for k, r in TINY_SPACE.items() if hasattr(r, "min_value")}, "likelihood": "student-T"}
    hp["epochs"] = 6
    seen = []
    engine.fit(dataset, train, hp, TINY, seed=1, validation=test, on_epoch=lambda e, loss: seen.append((e, loss)) or e >= 1)
    assert [e for e, _ in seen] == [0, 1]
    assert all(np.isfinite(loss) for _, loss in seen)


def test_held_out_loss_only_watches(setup):
    """Reporting the held-out loss changes nothing in training: the same seed gives the same
    model with and without it (the weights are not chosen by, nor trained on, those windows)."""
    engine, dataset, _ = setup
    train, test = engine.read_channel(dataset, "train"), engine.read_channel(dataset, "test")
    hp = {**{k: r.min_value for k, r in TINY_SPACE.items() if hasattr(r, "min_value")}, "likelihood": "student-T", "epochs": 3}
    seen = []
    watched = engine.fit(dataset, train, hp, TINY, seed=5, validation=test, on_epoch=lambda e, loss: seen.append(loss) and False)
    plain = engine.fit(dataset, train, hp, TINY, seed=5)
    assert len(seen) == 3 and len(set(seen)) == 3  # a loss per epoch, and the model moved
    for name, value in watched.prediction_net.state_dict().items():
        assert torch.equal(value, plain.prediction_net.state_dict()[name]), name


def test_an_epoch_is_one_pass_over_the_series_by_default():
    from deepar_assets.engines.local import batches_per_epoch

    assert batches_per_epoch(TuningSettings(), series=3313, batch_size=64) == 52  # as SageMaker DeepAR counts
    assert batches_per_epoch(TuningSettings(), series=3313, batch_size=32) == 104  # the same windows, smaller batches
    assert batches_per_epoch(TuningSettings(num_batches_per_epoch=50), series=3313, batch_size=32) == 50


def test_store_subset_is_seeded_and_reported(setup):
    engine, dataset, _ = setup
    settings = TuningSettings(max_trials=1, seed=2, num_batches_per_epoch=2, num_eval_samples=10, store_fraction=0.5)
    result = engine.tune(dataset, TINY_SPACE, settings, lambda _: None)
    assert result.details["stores_in_search"] == 2  # round(0.5 * 3 stores)
    assert result.trials[0].state == "COMPLETE"
    with pytest.raises(ConfigurationError, match="store_fraction"):
        engine.tune(dataset, TINY_SPACE, TuningSettings(store_fraction=0), lambda _: None)


def test_validation_report_known_answer():
    """Two series, h = 2: a perfect model, seasonal naive off by known amounts."""
    from deepar_assets.domain.encoding import CatSpec, Encoding
    from deepar_assets.engines.local import validation_report

    encoding = Encoding(
        cat=[CatSpec("Store", [1, 2]), CatSpec("Dept", [5]), CatSpec("Type", ["A"])],
        dynamic_feat=[],
        holidays=["2011-02-25"],
    )
    weeks = 56  # 54 weeks of history + 2 scored
    a = np.arange(weeks, dtype=float) + 100
    b = np.full(weeks, 50.0)
    b[10] = np.nan  # a missing week: series b is not complete
    b[-1] = 60.0  # seasonal naive (50) is 10 short in the holiday week
    records = [
        {"start": "2010-02-05 00:00:00", "target": a, "cat": [0, 0, 0]},
        {"start": "2010-02-05 00:00:00", "target": b, "cat": [1, 0, 0]},
    ]
    actual = np.stack([a[-2:], b[-2:]])
    forecast = {"mean": actual.copy(), **{f"p{q}": actual.copy() for q in range(10, 100, 10)}}
    report = validation_report(records, forecast, actual, encoding, h=2)
    assert report["series"] == 2 and report["complete_series"] == 1
    model, naive = report["metrics"]["model"], report["metrics"]["seasonal_naive"]
    assert model["WMAE"] == 0 and model["RMSE"] == 0 and model["mean_wQuantileLoss"] == 0
    # Seasonal naive: series a is 52 below (a linear trend) both weeks; series b is exact, then
    # 10 short. The second week (2011-02-25) is a holiday, weighted 5:
    # WMAE = (52·1 + 52·5 + 0·1 + 10·5) / (1 + 5 + 1 + 5).
    assert naive["WMAE"] == pytest.approx((52 + 52 * 5 + 0 + 10 * 5) / 12)
    assert naive["RMSE"] == pytest.approx(np.sqrt((52**2 * 2 + 10**2) / 4))
    frame = report["frame"]
    assert frame[["Store", "Dept"]].drop_duplicates().values.tolist() == [[1, 5], [2, 5]]
    assert frame["Date"].tolist() == ["2011-02-18", "2011-02-25"] * 2
    assert report["metrics_complete"]["seasonal_naive"]["WMAE"] == pytest.approx(52.0)


def test_parallel_trials_share_one_study(setup, tmp_path):
    """Two processes run trials of the same stored study until the budget is used, and every
    finished trial is logged once, whichever process ran it."""
    _, dataset, store = setup
    engine = LocalEngine(store, tmp_path / "work", study_db=tmp_path / "optuna" / "studies.db")
    settings = TuningSettings(max_trials=3, seed=9, num_batches_per_epoch=2, num_eval_samples=10, parallel_trials=2)
    lines = []
    result = engine.tune(dataset, TINY_SPACE, settings, lines.append)
    assert sorted(t.number for t in result.trials) == [1, 2, 3]
    assert all(t.state == "COMPLETE" for t in result.trials), [t.error for t in result.trials]
    assert sorted(line.split()[1] for line in lines if line.startswith("trial ")) == ["1/3", "2/3", "3/3"]
    assert result.details["parallel_trials"] == 2
    with pytest.raises(ConfigurationError, match="study database"):
        LocalEngine(store, tmp_path / "work").tune(dataset, TINY_SPACE, settings, lines.append)


def test_trials_are_claimed_one_at_a_time_from_an_exact_budget():
    """Processes take trials from one shared count, so none is run beyond the budget."""
    import multiprocessing

    from deepar_assets.engines.local import _claim

    budget = multiprocessing.get_context("spawn").Value("i", 3)
    assert [_claim(budget) for _ in range(5)] == [True, True, True, False, False]
    assert budget.value == 0


def test_held_out_sample_is_seeded_in_file_order_and_capped():
    from deepar_assets.engines.local import _held_out

    records = [{"cat": [i]} for i in range(50)]
    sample = _held_out(records, 20, seed=3)
    assert len(sample) == 20 and sample == _held_out(records, 20, seed=3)
    positions = [r["cat"][0] for r in sample]
    assert positions == sorted(positions) and sample != _held_out(records, 20, seed=4)
    assert _held_out(records, 80, seed=3) is records  # fewer series than the sample: all of them
