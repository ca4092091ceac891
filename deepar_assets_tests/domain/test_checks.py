"""The raw-data checks, generic over the spec: on the synthetic dataset (Walmart's layout, a
related table keyed by Store) and on a dataset with a global related table."""

import warnings

import numpy as np
import pandas as pd
import pytest

from deepar_assets.domain.checks import (
    RAW_CHECKS,
    negative_target_share,
    related_rows_for_every_series,
    row_and_series_counts,
)
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec import DatasetSpec, load_spec


@pytest.fixture
def raw(small_source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_dataset(load_spec("synthetic"), small_source)


def test_all_checks_pass_on_clean_data(raw):
    for name, check in RAW_CHECKS.items():
        outcome = check(raw)
        assert outcome.passed, (name, outcome.figures)


def test_missing_related_row_is_found(raw):
    features = raw.related["features"]
    week = raw.target["Date"].iloc[0]
    store = raw.target["Store"].iloc[0]
    raw.related["features"] = features[~((features["Date"] == week) & (features["Store"] == store))]
    outcome = related_rows_for_every_series(raw)
    assert not outcome.passed
    assert outcome.figures["features_rows_missing"] == 1
    assert outcome.figures["features_first_missing"] == f"Store {store}, period {week:%Y-%m-%d}"
    store_weeks = len(raw.target[["Store", "Date"]].drop_duplicates())
    assert outcome.figures["features_rows_expected"] == store_weeks


def test_a_store_without_target_rows_in_a_week_needs_no_features_row(raw):
    week = raw.target["Date"].iloc[0]
    store = raw.target["Store"].iloc[0]
    raw.target = raw.target[~((raw.target["Date"] == week) & (raw.target["Store"] == store))]
    features = raw.related["features"]
    raw.related["features"] = features[~((features["Date"] == week) & (features["Store"] == store))]
    assert related_rows_for_every_series(raw).passed


def test_global_related_table():
    spec = DatasetSpec.model_validate(
        {
            "name": "g", "frequency": "D", "start": "2020-01-01",
            "target": {"file": "t", "ids": ["s"], "time": {"column": "date"}, "target": "y"},
            "related": [{"name": "oil", "file": "o", "time": {"column": "day"}, "covariates": ["price"]}],
        }
    )  # fmt: skip
    days = pd.date_range("2020-01-01", periods=5)
    target = pd.DataFrame({"s": np.repeat(["a", "b"], 5), "date": np.tile(days, 2), "y": 1.0})
    oil = pd.DataFrame({"day": days.delete(3), "price": 1.0})
    outcome = related_rows_for_every_series(RawData(spec, target, {"oil": oil}))
    assert not outcome.passed
    assert outcome.figures == {"oil_rows_expected": 5, "oil_rows_missing": 1, "oil_first_missing": "period 2020-01-04"}


def test_thin_period_is_found(raw):
    week = raw.target["Date"].iloc[0]
    rows = raw.target.index[raw.target["Date"] == week]
    raw.target = raw.target.drop(rows[1:])
    outcome = row_and_series_counts(raw)
    assert not outcome.passed and outcome.figures["thin_periods"] == 1
    assert outcome.figures["first_thin_period"] == f"{week:%Y-%m-%d} (1 rows)"
    assert outcome.figures["series"] == len(raw.target[["Store", "Dept"]].drop_duplicates())


def test_negative_share_limit(raw):
    assert negative_target_share(raw).figures["negative_rows"] == int((raw.target["Weekly_Sales"] < 0).sum())
    raw.target.loc[raw.target.index[: len(raw.target) // 10], "Weekly_Sales"] = -1.0
    outcome = negative_target_share(raw)
    assert not outcome.passed and outcome.figures["share"] > 0.05
    assert "Weekly_Sales" in outcome.description
