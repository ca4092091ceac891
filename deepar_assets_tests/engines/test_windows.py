"""The NumPy window loader cuts exactly the windows GluonTS's InstanceSplitter cuts."""

import numpy as np
import pandas as pd
import pytest
from gluonts.transform import InstanceSplitter, TestSplitSampler

from deepar_assets.engines.local import lags_for, to_gluonts_entries
from deepar_assets.engines.windows import WindowBatches, fast_deepar_estimator

H = 4


def _records(lengths: list[int], seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    records = []
    for n, length in enumerate(lengths):
        target = rng.normal(100, 10, length)
        target[rng.random(length) < 0.1] = np.nan  # gaps: imputed, and not observed
        records.append(
            {
                "start": f"{pd.Timestamp('2010-02-05') + pd.Timedelta(weeks=n):%Y-%m-%d}",
                "target": target.tolist(),
                "cat": [n % 3, n % 2],
                "dynamic_feat": rng.normal(size=(2, length)).tolist(),  # as long as the target, as in training
            }
        )
    return records


def _transformed(lengths: list[int], context_length: int = 6):
    estimator = fast_deepar_estimator(
        seed=0,
        freq="W-FRI",
        prediction_length=H,
        context_length=context_length,
        num_feat_dynamic_real=2,
        num_feat_static_cat=2,
        cardinality=[3, 2],
        lags_seq=lags_for("W-FRI"),
    )
    module = estimator.create_lightning_module()
    entries = to_gluonts_entries(_records(lengths), "W-FRI")
    transformed = list(estimator.create_transformation().apply(entries, is_train=True))
    return estimator, module, transformed


def test_windows_equal_gluonts_instance_splitter_including_left_padding():
    estimator, module, entries = _transformed([30, 70, 12, 70])
    past = module.model._past_length  # context + the largest lag: longer than some series
    assert past > 12
    loader = WindowBatches(entries, past, H, batch_size=8, num_batches=1, seed=1)
    series = np.array([0, 1, 1, 2, 3, 3, 2])
    split = np.array([30 - H, 0, 66, 5, past, 70 - H, 12 - H])  # ends, a fully padded past, exact fit
    batch = loader.windows(series, split)

    for row, (s, i) in enumerate(zip(series, split, strict=True)):
        splitter = InstanceSplitter(
            target_field="target",
            is_pad_field="is_pad",
            start_field="start",
            forecast_start_field="forecast_start",
            instance_sampler=TestSplitSampler(),
            past_length=past,
            future_length=H,
            time_series_fields=["time_feat", "observed_values"],
            dummy_value=estimator.distr_output.value_in_support,
        )
        expected = splitter._split_instance(entries[s], int(i))
        for name in (
            "past_target",
            "future_target",
            "past_observed_values",
            "future_observed_values",
            "past_time_feat",
            "future_time_feat",
            "feat_static_cat",
            "feat_static_real",
        ):
            np.testing.assert_array_equal(batch[name][row], expected[name], err_msg=f"{name} of series {s} at {i}")
            assert batch[name].dtype == expected[name].dtype, name


def test_draws_cover_every_split_point_uniformly_and_follow_the_seed():
    _, module, entries = _transformed([10, 20])
    loader = WindowBatches(entries, module.model._past_length, H, batch_size=64, num_batches=3, seed=7)
    series, split = loader.draw(60_000)
    valid = [10 - H + 1, 20 - H + 1]  # split points 0..n-H in each series
    assert ((split >= 0) & (split < np.take(valid, series))).all()
    counts = np.bincount(series * 100 + split)
    counts = counts[counts > 0]
    assert len(counts) == sum(valid)  # every window occurs
    assert counts.min() > 0.8 * 60_000 / sum(valid)  # about equally often: uniform over windows
    assert counts.max() < 1.2 * 60_000 / sum(valid)

    fresh = WindowBatches(entries, module.model._past_length, H, batch_size=64, num_batches=3, seed=7)
    batches = list(fresh)
    assert len(batches) == len(fresh) == 3
    assert batches[0]["past_target"].shape == (64, module.model._past_length)
    assert batches[0]["past_time_feat"].shape[:2] == (64, module.model._past_length)
    again = list(WindowBatches(entries, module.model._past_length, H, batch_size=64, num_batches=3, seed=7))
    for first, second in zip(batches, again, strict=True):
        for name, values in first.items():
            assert (values == second[name]).all()


def test_series_too_short_for_a_window_are_refused_by_name():
    _, module, entries = _transformed([H - 1])
    with pytest.raises(ValueError, match="no series has the 4 points"):
        WindowBatches(entries, module.model._past_length, H, batch_size=4, num_batches=1, seed=0)
