import pytest

from deepar_assets.domain.checks import (
    features_for_every_store,
    holiday_flags_agree,
    negative_sales_share,
    row_and_series_counts,
)
from deepar_assets.domain.kaggle import read_kaggle


@pytest.fixture
def raw(small_source):
    return read_kaggle(small_source)


def test_all_checks_pass_on_clean_data(raw):
    for check in (holiday_flags_agree, features_for_every_store, row_and_series_counts, negative_sales_share):
        outcome = check(raw)
        assert outcome.passed, (check.__name__, outcome.figures)


def test_holiday_disagreement_is_found(raw):
    row = raw.sales.index[raw.sales["IsHoliday"]][0]
    raw.sales.loc[row, "IsHoliday"] = False
    outcome = holiday_flags_agree(raw)
    assert not outcome.passed
    assert outcome.figures["rows_disagreeing"] == 1
    assert f"store {raw.sales.loc[row, 'Store']}" in outcome.figures["first_disagreement"]


def test_missing_store_week_of_features_is_found(raw):
    week = raw.sales["Date"].iloc[0]
    raw.features = raw.features[~((raw.features["Date"] == week) & (raw.features["Store"] == raw.stores["Store"].iloc[-1]))]
    outcome = features_for_every_store(raw)
    assert not outcome.passed and outcome.figures["store_weeks_missing"] == 1


def test_thin_week_is_found(raw):
    week = raw.sales["Date"].iloc[0]
    rows = raw.sales.index[raw.sales["Date"] == week]
    raw.sales = raw.sales.drop(rows[1:])
    outcome = row_and_series_counts(raw)
    assert not outcome.passed and outcome.figures["thin_weeks"] == 1
    assert outcome.figures["first_thin_week"].startswith(f"{week:%Y-%m-%d}")


def test_negative_share_limit(raw):
    assert negative_sales_share(raw).figures["negative_rows"] == int((raw.sales["Weekly_Sales"] < 0).sum())
    raw.sales.loc[raw.sales.index[: len(raw.sales) // 10], "Weekly_Sales"] = -1.0
    outcome = negative_sales_share(raw)
    assert not outcome.passed and outcome.figures["share"] > 0.05
