"""Raw weeks stored as Parquet, one object per week and table."""

import pandas as pd
import pytest

from deepar_assets.domain.kaggle import read_kaggle
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import FEATURES_AHEAD, SALES, read_stored, stored_weeks, write_weeks


@pytest.fixture
def raw(small_source):
    return read_kaggle(small_source)


@pytest.fixture
def store(tmp_path):
    return FolderStore(tmp_path / "store")


def _weeks(raw, n=None):
    weeks = sorted(raw.sales["Date"].unique())
    return weeks if n is None else weeks[:n]


def test_every_value_survives_a_round_trip(raw, store):
    write_weeks(store, raw, _weeks(raw))
    back = read_stored(store)
    key = ["Store", "Dept", "Date"]
    expected = raw.sales.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(back.sales.sort_values(key).reset_index(drop=True), expected)
    pd.testing.assert_frame_equal(back.stores, raw.stores)
    # Features: every stored week plus the weeks known ahead.
    assert back.features["Date"].max() == raw.features["Date"].max()
    assert len(back.features) == len(raw.features)


def test_rewriting_a_week_replaces_its_rows(raw, store):
    weeks = _weeks(raw, 5)
    write_weeks(store, raw, weeks)
    write_weeks(store, raw, weeks[2:3])  # the same week again
    back = read_stored(store)
    assert len(back.sales) == int(raw.sales["Date"].isin(weeks).sum())
    assert not back.sales.duplicated(["Store", "Dept", "Date"]).any()
    # A restated week replaces the old figures.
    restated = raw.sales.copy()
    restated.loc[restated["Date"] == weeks[2], "Weekly_Sales"] += 1.0
    raw.sales = restated
    write_weeks(store, raw, weeks[2:3])
    back = read_stored(store)
    week = back.sales[back.sales["Date"] == weeks[2]].sort_values(["Store", "Dept"])
    assert week["Weekly_Sales"].tolist() == restated[restated["Date"] == weeks[2]].sort_values(["Store", "Dept"])["Weekly_Sales"].tolist()


def test_a_bad_request_stores_nothing_and_keeps_earlier_weeks(raw, store):
    weeks = _weeks(raw, 3)
    write_weeks(store, raw, weeks)
    before = {key: store.get_bytes(key) for key in store.list_keys()}
    unknown_week = pd.Timestamp("2030-01-04")
    with pytest.raises(DataValidationError, match="no sales rows for the week.*2030-01-04"):
        write_weeks(store, raw, [*_weeks(raw)[3:6], unknown_week])
    assert {key: store.get_bytes(key) for key in store.list_keys()} == before

    # A week whose sales have no features row for their store: refused, nothing written.
    raw.features = raw.features[~((raw.features["Date"] == _weeks(raw)[4]) & (raw.features["Store"] == 1))]
    with pytest.raises(DataValidationError, match="no features row"):
        write_weeks(store, raw, _weeks(raw)[3:6])
    assert {key: store.get_bytes(key) for key in store.list_keys()} == before


def test_weeks_are_listed_and_features_ahead_start_after_the_last_week(raw, store):
    weeks = _weeks(raw, 4)
    write_weeks(store, raw, weeks)
    assert stored_weeks(store) == [pd.Timestamp(w) for w in weeks]
    assert store.list_keys(f"{SALES}/")[0].endswith(f"{weeks[0]:%Y-%m-%d}.parquet")
    ahead = read_stored(store).features
    assert ahead["Date"].max() == raw.features["Date"].max()
    assert store.exists(FEATURES_AHEAD)


def test_nothing_stored_is_a_clear_error(store):
    with pytest.raises(DataValidationError, match="materialize raw_sales first"):
        read_stored(store)
