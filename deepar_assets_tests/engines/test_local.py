"""The local engine on tiny datasets: real GluonTS training with tiny budgets. The synthetic
spec (weekly, the layout with covariates and period weights) goes through the reader and the
encoder; other shapes (monthly string ids without covariates, daily counts) are built as
channel files directly (``datasets.py``)."""

import io
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from deepar_assets.domain.backtest import cut_record
from deepar_assets.domain.encoding import encode
from deepar_assets.domain.hyperparameters import CategoricalRange, ContinuousRange, IntegerRange
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec.load import load_spec
from deepar_assets.engines.base import RegisteredModel, TuningSettings, dataset_facts
from deepar_assets.engines.inference import EVALUATED_PREDICTOR, forecaster, refit_forecasters
from deepar_assets.engines.local import (
    EVALUATED_PREDICTOR_DIR,
    PRUNE_AFTER_TRIALS,
    LocalEngine,
    _member_samples,
    lags_for,
    period_freq,
    to_gluonts_entries,
)
from deepar_assets.errors import ConfigurationError, TrainingError
from deepar_assets.storage.datasets import publish_dataset
from deepar_assets.storage.local import FolderStore
from deepar_assets_tests.engines.datasets import DAILY_COUNTS, MONTHLY, publish_shape, series

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
    encoded = encode(read_dataset(load_spec("synthetic"), small_source))
    dataset = publish_dataset(store, encoded, prediction_length=4).ref
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


def test_best_model_fits_on_the_latest_origin_of_a_rolling_test_channel(tmp_path, small_source, monkeypatch):
    """With rolling origins the test channel also holds every series cut at an earlier end, to
    score the trials; the model best_model scores on the validation window is trained on the
    history up to T - h once per series, as the forecasting refit is on the history up to T."""
    store = FolderStore(tmp_path / "storage")
    encoded = encode(read_dataset(load_spec("synthetic"), small_source))
    dataset = publish_dataset(store, encoded, prediction_length=4, rolling_origins=2).ref
    engine = LocalEngine(store, tmp_path / "work")
    test, validation = engine.read_channel(dataset, "test"), engine.read_channel(dataset, "validation")
    up_to_t = {tuple(r["cat"]): r["target"] for r in validation}
    assert len({tuple(r["cat"]) for r in test}) < len(test), "the test channel holds two cuts of a series"
    fitted: dict = {}
    fit_to_folders = engine.fit_to_folders

    def spy(dataset, jobs, *args, **kwargs):
        fitted.update(jobs)
        return fit_to_folders(dataset, jobs, *args, **kwargs)

    monkeypatch.setattr(engine, "fit_to_folders", spy)
    result = engine.tune(dataset, TINY_SPACE, replace(TINY, max_trials=1), lambda _: None)
    lines: list[str] = []
    engine.register_best(result, lines.append)
    evaluated = fitted[(EVALUATED_PREDICTOR_DIR, 0)]
    cats = [tuple(r["cat"]) for r in evaluated]
    assert len(cats) == len(set(cats)) == len({tuple(r["cat"]) for r in test})
    for record in evaluated:  # each series once, up to T - h
        np.testing.assert_array_equal(record["target"], up_to_t[tuple(record["cat"])][:-4])
    assert f"on the test channel ({len(evaluated)} series up to T - h)" in lines[0]


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

    assert card["dataset"] == "synthetic" and card["ids"] == ["Store", "Dept"]
    assert card["evaluation"]["season_length"] == 52 and "weighted" in card["evaluation"]["period_weights"]

    # Validation forecasts, decoded to the spec's ids, one row per series and period.
    frame = pd.read_csv(io.BytesIO(store.get_bytes(f"models/{model.model_id}/validation_forecasts.csv")))
    # Keyed by the ids and the categorical attributes, the period in the spec's time column.
    assert list(frame.columns) == ["Store", "Dept", "Type", "Date", "mean", *[f"p{q}" for q in range(10, 100, 10)]]
    validation = engine.read_channel(dataset, "validation")
    assert len(frame) == len(validation) * dataset.prediction_length
    assert frame["Date"].max() == dataset.last_period
    assert (frame["p10"] <= frame["p90"]).all()

    # The scored model loads and forecasts every validation series exactly as when it was
    # scored (same seed, same samples, same metrics); the forecasting model loads too.
    reloaded = engine.load(model.model_id, which="evaluated_predictor")
    assert engine.load(model.model_id) is not None
    scores, forecast, _ = engine.evaluate(reloaded, dataset, validation, seed=TINY.seed)
    assert scores["test:mean_wQuantileLoss"] == pytest.approx(
        card["validation_metrics"]["validation:mean_wQuantileLoss"]
    )
    assert forecast["mean"].shape == (len(validation), dataset.prediction_length)
    assert np.all(forecast["p10"] <= forecast["p90"])
    assert np.isfinite(forecast["mean"]).all()
    # The combination and the backtest get that forecast as best_model kept it, not sampled again;
    # other records (one value changed) are sampled.
    evaluated = forecaster(engine, model, dataset, which=EVALUATED_PREDICTOR)
    kept = evaluated.predict(validation, cut=dataset.prediction_length)
    assert evaluated.reused == 1 and set(kept) == set(forecast)
    for key, values in forecast.items():
        np.testing.assert_allclose(kept[key], values, rtol=1e-6)
    changed = [{**validation[0], "target": validation[0]["target"] + 1.0}, *validation[1:]]
    resampled = evaluated.predict(changed, cut=dataset.prediction_length)
    assert evaluated.reused == 1 and not np.array_equal(resampled["mean"][0], kept["mean"][0])
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
    engine.fit(
        dataset, train, hp, TINY, seed=1, validation=test, on_epoch=lambda e, loss: seen.append((e, loss)) or e >= 1
    )
    assert [e for e, _ in seen] == [0, 1]
    assert all(np.isfinite(loss) for _, loss in seen)


def test_the_held_out_loss_is_computed_only_where_the_pruner_can_use_it(setup, monkeypatch):
    """The pruner waits for PRUNE_AFTER_TRIALS trials: a search of no more trials trains without
    the held-out loss after each epoch (and says every epoch ran); a longer one watches it."""
    engine, dataset, _ = setup
    watched = []
    real = LocalEngine.fit

    def fit(self, *args, validation=None, on_epoch=None, **kwargs):
        watched.append(validation is not None)
        return real(self, *args, validation=validation, on_epoch=on_epoch, **kwargs)

    monkeypatch.setattr(LocalEngine, "fit", fit)
    result = engine.tune(dataset, TINY_SPACE, TINY, lambda _: None)
    assert watched == [False, False]
    assert [t.metrics["epochs_run"] for t in result.trials] == [t.hyperparameters["epochs"] for t in result.trials]
    watched.clear()
    engine.tune(dataset, TINY_SPACE, replace(TINY, max_trials=PRUNE_AFTER_TRIALS + 1), lambda _: None)
    assert watched == [True] * (PRUNE_AFTER_TRIALS + 1)


def test_held_out_loss_only_watches(setup):
    """Reporting the held-out loss changes nothing in training: the same seed gives the same
    model with and without it (the weights are not chosen by, nor trained on, those windows)."""
    engine, dataset, _ = setup
    train, test = engine.read_channel(dataset, "train"), engine.read_channel(dataset, "test")
    hp = {
        **{k: r.min_value for k, r in TINY_SPACE.items() if hasattr(r, "min_value")},
        "likelihood": "student-T",
        "epochs": 3,
    }
    seen = []
    watched = engine.fit(
        dataset, train, hp, TINY, seed=5, validation=test, on_epoch=lambda e, loss: seen.append(loss) and False
    )
    plain = engine.fit(dataset, train, hp, TINY, seed=5)
    assert len(seen) == 3 and len(set(seen)) == 3  # a loss per epoch, and the model moved
    for name, value in watched.prediction_net.state_dict().items():
        assert torch.equal(value, plain.prediction_net.state_dict()[name]), name


def test_an_epoch_is_one_pass_over_the_series_by_default():
    from deepar_assets.engines.local import batches_per_epoch

    assert batches_per_epoch(TuningSettings(), series=3313, batch_size=64) == 52  # as SageMaker DeepAR counts
    assert batches_per_epoch(TuningSettings(), series=3313, batch_size=32) == 104  # the same windows, smaller batches
    assert batches_per_epoch(TuningSettings(num_batches_per_epoch=50), series=3313, batch_size=32) == 50


def test_id_subset_is_seeded_and_reported(setup):
    engine, dataset, _ = setup
    settings = TuningSettings(max_trials=1, seed=2, num_batches_per_epoch=2, num_eval_samples=10, id_fraction=0.5)
    result = engine.tune(dataset, TINY_SPACE, settings, lambda _: None)
    assert result.details["first_id_values_in_search"] == 2  # round(0.5 * 3 values of the first id)
    assert result.trials[0].state == "COMPLETE"
    with pytest.raises(ConfigurationError, match="id_fraction"):
        engine.tune(dataset, TINY_SPACE, TuningSettings(id_fraction=0), lambda _: None)


def test_lags_reach_a_year_back_for_every_frequency():
    """GluonTS's default lags, up to a year and a period: the weekly set is the one measured on
    weekly retail data; daily data keeps the yearly lags, monthly the lags around 12."""
    assert lags_for("W-FRI") == [1, 2, 3, 4, 5, 6, 7, 8, 12, 51, 52, 53]
    assert lags_for("W-SUN") == lags_for("W-FRI")
    assert lags_for("MS") == lags_for("ME") == [1, 2, 3, 4, 5, 6, 7, 11, 12, 13]
    daily = lags_for("D")
    assert {7, 14, 28, 363, 364, 365} <= set(daily) and max(daily) == 365
    assert max(lags_for("h")) <= 24 * 366 and 24 in lags_for("h")
    assert [period_freq(f) for f in ("W-FRI", "MS", "ME", "D", "h")] == ["W-FRI", "M", "M", "D", "h"]
    with pytest.raises(ConfigurationError, match="not a supported frequency"):
        lags_for("QE-DEC")


@pytest.fixture
def monthly(tmp_path):
    store = FolderStore(tmp_path / "storage")
    return LocalEngine(store, tmp_path / "work"), publish_shape(store, MONTHLY), store


def test_monthly_string_ids_without_covariates_tune_register_and_score(monthly):
    """A monthly dataset with string ids, no dynamic features and a ragged series trains,
    registers, and is scored against seasonal naive with season 12 and no weights: the card's
    WMAE is the plain MAE of the validation forecasts, and naive's is recomputed here."""
    engine, dataset, store = monthly
    assert dataset.dynamic_feat == [] and dataset.freq == "MS"
    entries = to_gluonts_entries(engine.read_channel(dataset, "test"), dataset.freq)
    assert all("feat_dynamic_real" not in e for e in entries) and entries[0]["start"] == pd.Period("2012-01", freq="M")
    space = {**TINY_SPACE, "likelihood": CategoricalRange(("student-T",))}
    settings = TuningSettings(max_trials=1, seed=4, num_batches_per_epoch=2, num_eval_samples=20)
    result = engine.tune(dataset, space, settings, lambda _: None)
    assert result.trials[0].state == "COMPLETE", result.trials[0].error

    model = engine.register_best(result, lambda _: None)
    card = json.loads(store.get_bytes(f"models/{model.model_id}/model.json"))
    assert card["dataset"] == "aus_retail" and card["ids"] == ["State", "Industry"] and card["freq"] == "MS"
    assert card["last_period"] == dataset.last_period == "2017-12-01"
    assert card["evaluation"]["season_length"] == 12 and "plain MAE" in card["evaluation"]["period_weights"]
    frame = pd.read_csv(io.BytesIO(store.get_bytes(f"models/{model.model_id}/validation_forecasts.csv")))
    assert list(frame.columns) == ["State", "Industry", "Month", "mean", *[f"p{q}" for q in range(10, 100, 10)]]
    assert set(frame["State"]) == set(MONTHLY.ids["State"]) and frame["Month"].max() == "2017-12-01"

    keys, target, _ = series(MONTHLY)
    h = MONTHLY.h
    actual = target[:, -h:].ravel()
    mae = np.mean(np.abs(frame["mean"].to_numpy() - actual))
    assert card["validation_metrics"]["validation:WMAE"] == pytest.approx(mae, abs=0.01)
    history = target[:, :-h]
    naive = history[:, -12:][:, :h].ravel()  # the same month a year earlier
    naive_mae = np.mean(np.abs(naive - actual))
    assert card["seasonal_naive_validation_metrics"]["validation:WMAE"] == pytest.approx(naive_mae)
    assert card["seasonal_naive_validation_metrics"]["validation:MASE"] > 0


def test_daily_counts_train_with_negative_binomial_and_say_they_are_counts(tmp_path):
    """Daily count data: dataset_facts sees non-negative whole targets (real-valued data does
    not), and a negative-binomial DeepAR trains and forecasts finite, non-negative values."""
    store = FolderStore(tmp_path / "storage")
    dataset = publish_shape(store, DAILY_COUNTS)
    assert dataset_facts(store, dataset).counts is True
    assert dataset_facts(store, publish_shape(store, MONTHLY)).counts is False
    engine = LocalEngine(store, tmp_path / "work")
    train, test = engine.read_channel(dataset, "train"), engine.read_channel(dataset, "test")
    hp = {
        **{k: r.min_value for k, r in TINY_SPACE.items() if hasattr(r, "min_value")},
        "likelihood": "negative-binomial",
    }
    predictor = engine.fit(dataset, train, hp, TINY, seed=2)
    scores, forecast, _ = engine.evaluate(predictor, dataset, test, seed=2)
    assert forecast["mean"].shape == (len(test), DAILY_COUNTS.h)
    assert np.isfinite(forecast["mean"]).all() and (forecast["p10"] >= 0).all()
    assert 0 < scores["test:mean_wQuantileLoss"] < 10


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


def test_a_spec_with_its_own_space_is_searched_as_declared(setup):
    """The synthetic spec declares the measured space: that is the search, whatever the data
    (its likelihood is declared, so the train channel is not read for counts)."""
    from deepar_assets.domain.hyperparameters import DEFAULT_SEARCH_SPACE
    from deepar_assets.engines.base import search_space_for

    _, dataset, store = setup
    space, origin = search_space_for(store, dataset)
    assert space == DEFAULT_SEARCH_SPACE
    assert origin.startswith("the synthetic spec's tuning.search_space (context_length, dropout_rate")
    assert "the rest" not in origin
    narrower = {"epochs": IntegerRange(2, 3)}
    space, origin = search_space_for(store, dataset, narrower)
    assert space == {**DEFAULT_SEARCH_SPACE, **narrower} and origin.startswith("run config: epochs; the rest: ")


def test_a_trials_seed_follows_its_configuration_not_its_number():
    from deepar_assets.engines.local import trial_seed

    hp = {"epochs": 3, "learning_rate": 0.003, "likelihood": "student-T"}
    assert trial_seed(42, hp) == trial_seed(42, dict(reversed(list(hp.items()))))  # order does not matter
    assert trial_seed(42, hp) != trial_seed(42, {**hp, "epochs": 4})
    assert trial_seed(42, hp) != trial_seed(43, hp)
    assert 0 <= trial_seed(2**31 - 1, hp) < 2**31


def test_models_trained_side_by_side_in_workers_equal_those_trained_one_by_one(setup):
    """fit_many trains several record sets in spawned worker processes at once (the refits
    before a rolling backtest's windows): each model is the one fit trains in process with the
    same seed, weight for weight."""
    engine, dataset, _ = setup
    train = engine.read_channel(dataset, "train")
    hp = {
        **{k: r.min_value for k, r in TINY_SPACE.items() if hasattr(r, "min_value")},
        "likelihood": "student-T",
        "epochs": 2,
    }
    jobs = {drop: [cut_record(r, drop) for r in train] for drop in (4, 8)}
    side_by_side = engine.fit_many(dataset, jobs, hp, TINY, seed=5, workers=2)
    assert sorted(side_by_side) == [4, 8]
    weights = {}
    for drop, records in jobs.items():
        alone = engine.fit(dataset, records, hp, TINY, seed=5).prediction_net.state_dict()
        weights[drop] = alone
        for name, value in side_by_side[drop].prediction_net.state_dict().items():
            assert torch.equal(value, alone[name]), (drop, name)
    assert any(not torch.equal(weights[4][k], weights[8][k]) for k in weights[4])  # two different models


def test_a_worker_that_fails_names_what_it_was_training(setup):
    engine, dataset, _ = setup
    train = engine.read_channel(dataset, "train")
    hp = {**{k: r.min_value for k, r in TINY_SPACE.items() if hasattr(r, "min_value")}, "likelihood": "no-such"}
    with pytest.raises(TrainingError, match="no-such"):
        engine.fit_many(dataset, {1: train, 2: train}, hp, TINY, seed=5, workers=2)


def test_an_ensemble_trains_members_with_consecutive_seeds_and_pools_their_samples(setup):
    """best_model with members=2: the first member of each predictor is the single model
    (same seed, weight for weight), the second is trained with the next seed; the validation
    forecast pools the members' samples, each member drawing half of num_eval_samples; the
    ensemble has an id of its own, reloads whole and forecasts as it was scored."""
    engine, dataset, store = setup
    settings = TuningSettings(max_trials=1, seed=6, num_batches_per_epoch=3, num_eval_samples=20)
    result = engine.tune(dataset, TINY_SPACE, settings, lambda _: None)
    single = engine.register_best(result, lambda _: None)
    lines: list[str] = []
    ensemble = engine.register_best(result, lines.append, members=2)
    assert ensemble.model_id != single.model_id
    assert "as 2 networks (seeds [6, 7])" in lines[0]
    card = json.loads(store.get_bytes(f"models/{ensemble.model_id}/model.json"))
    assert card["members"]["count"] == 2 and card["members"]["seeds"] == [6, 7]
    assert card["members"]["folders"]["predictor"] == ["predictor", "predictor-member1"]

    for which in ("predictor", EVALUATED_PREDICTOR):
        first, second = engine.load_members(ensemble.model_id, which)
        alone = engine.load(single.model_id, which).prediction_net.state_dict()
        assert all(torch.equal(v, alone[k]) for k, v in first.prediction_net.state_dict().items()), which
        assert any(not torch.equal(v, alone[k]) for k, v in second.prediction_net.state_dict().items()), which
    assert len(engine.load_members(single.model_id)) == 1

    validation = engine.read_channel(dataset, "validation")
    h = dataset.prediction_length
    members = engine.load_members(ensemble.model_id, EVALUATED_PREDICTOR)
    inputs = to_gluonts_entries(validation, dataset.freq, cut=h)
    drawn = _member_samples(members[1], inputs, members=2)
    assert drawn.shape == (len(validation), 10, h)  # half of the 20 samples one network draws
    assert members[1].prediction_net.model.num_parallel_samples == 20  # restored

    pooled = engine.forecast(members, dataset, validation, seed=6, cut=h)
    alone = engine.forecast(members[0], dataset, validation, seed=6, cut=h)
    assert not np.allclose(pooled["p50"], alone["p50"])
    assert np.all(pooled["p10"] <= pooled["p90"])
    # The card's validation metrics are the pooled forecast's, and the combination gets it as kept.
    assert engine.score(np.stack([r["target"][-h:] for r in validation]), pooled)[
        "test:mean_wQuantileLoss"
    ] == pytest.approx(card["validation_metrics"]["validation:mean_wQuantileLoss"])
    evaluated = forecaster(engine, ensemble, dataset, which=EVALUATED_PREDICTOR)
    assert isinstance(evaluated.predictor, list) and len(evaluated.predictor) == 2
    kept = evaluated.predict(validation, cut=h)
    assert evaluated.reused == 1
    np.testing.assert_allclose(kept["p50"], pooled["p50"], rtol=1e-6)


def test_refits_of_an_ensemble_train_every_member(setup):
    """A rolling backtest's or the combination's refit of an ensemble trains as many networks
    as the model has, with its seeds: the first equals a single refit with the model's seed."""
    engine, dataset, _ = setup
    train = engine.read_channel(dataset, "train")
    hp = {
        **{k: r.min_value for k, r in TINY_SPACE.items() if hasattr(r, "min_value")},
        "likelihood": "student-T",
        "epochs": 1,
    }
    card = {"seed": 5, "hyperparameters": hp, "training_settings": TINY.__dict__, "members": {"seeds": [5, 6]}}
    model = RegisteredModel(model_id="m", uri="", card=card)
    lines: list[str] = []
    refits = refit_forecasters(engine, model, dataset, {4: [cut_record(r, 4) for r in train]}, log=lines.append)
    assert "2 networks each (seeds [5, 6])" in lines[0]
    members = refits[4].predictor
    assert isinstance(members, list) and len(members) == 2
    alone = engine.fit(dataset, [cut_record(r, 4) for r in train], hp, TINY, seed=5).prediction_net.state_dict()
    assert all(torch.equal(v, alone[k]) for k, v in members[0].prediction_net.state_dict().items())
    assert any(not torch.equal(v, alone[k]) for k, v in members[1].prediction_net.state_dict().items())
    forecast = refits[4].predict([cut_record(r, 4) for r in train], cut=dataset.prediction_length)
    assert forecast["mean"].shape == (len(train), dataset.prediction_length)
