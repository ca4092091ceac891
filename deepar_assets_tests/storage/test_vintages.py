"""Vintages and their score parts in the object store (a folder, and S3 on moto's server):
published whole and never overwritten; scored once per vintage × period; a restated period
scored again in a new part, the old one kept."""

from __future__ import annotations

import pandas as pd
import pytest

from deepar_assets.domain import accuracy as acc
from deepar_assets.domain import forecasting as fc
from deepar_assets.errors import StorageError
from deepar_assets.storage.vintages import (
    list_vintages,
    publish_vintage,
    read_expectations,
    read_vintage,
    score_vintages,
)
from deepar_assets_tests.domain.accuracy_samples import F1, F2, KEYS, V1, V2, P, actuals_for


def key(stamp: pd.Timestamp) -> str:
    return f"{stamp:%Y-%m-%d}"


def test_a_vintage_is_published_whole_once_and_read_back_as_written(any_store):
    publish_vintage(any_store, V1, F1)
    publish_vintage(any_store, V2, F2)
    assert list_vintages(any_store) == [V1, V2]
    pd.testing.assert_frame_equal(read_vintage(any_store, V1), F1)
    with pytest.raises(StorageError, match="never overwritten"):
        publish_vintage(any_store, V1, F2)
    pd.testing.assert_frame_equal(read_vintage(any_store, V1), F1)  # untouched


def test_a_forecast_table_without_its_manifest_is_not_a_vintage(any_store):
    any_store.put_bytes(f"vintages/{V1.vintage_id}/forecasts.parquet", b"half a publication")
    assert list_vintages(any_store) == []


def test_each_vintage_period_is_scored_once_and_a_restatement_adds_a_part(any_store):
    for v, f in ((V1, F1), (V2, F2)):
        publish_vintage(any_store, v, f)
    vintages = list_vintages(any_store)
    first = score_vintages(any_store, vintages, actuals_for, ["Store"], "Date", key)
    assert sorted((p.vintage_id, p.period, p.n) for p in first.written) == [
        (V1.vintage_id, "2024-01-12", 1),
        (V1.vintage_id, "2024-01-19", 1),
        (V2.vintage_id, "2024-01-19", 1),
    ]
    assert len(first.rows) == 6 and not first.restated

    again = score_vintages(any_store, vintages, actuals_for, ["Store"], "Date", key)
    assert again.written == [] and len(again.rows) == 6  # nothing new: nothing written

    def restated(wanted):  # P[2]'s actuals restated: store 1 sold 180, not 200
        frame = actuals_for(wanted)
        frame.loc[(frame["Store"] == 1) & (frame["Date"] == P[2]), "actual"] = 180.0
        return frame

    third = score_vintages(any_store, vintages, restated, ["Store"], "Date", key)
    assert sorted((p.vintage_id, p.period, p.n) for p in third.restated) == [
        (V1.vintage_id, "2024-01-19", 2),
        (V2.vintage_id, "2024-01-19", 2),
    ]
    parts = [k for k in any_store.list_keys("accuracy/scores/") if "/2024-01-19/" in k]
    assert len(parts) == 4  # both scorings of each vintage kept
    latest = third.rows.set_index(["vintage_id", "Store", "Date"])["actual"]
    assert latest[(V1.vintage_id, 1, P[2])] == 180.0 and latest[(V2.vintage_id, 1, P[2])] == 180.0
    assert len(third.rows) == 6


def test_expectations_are_read_per_model_and_a_model_without_a_backtest_is_named(any_store):
    points = acc.scored_rows(V1, F1, actuals_for([P[1], P[2]]), ["Store"], "Date")
    any_store.put_bytes("backtests/m1/expected_by_horizon.parquet", fc.to_parquet_bytes(acc.by_horizon(points)))
    any_store.put_bytes(
        "backtests/m1/expected_by_series.parquet", fc.to_parquet_bytes(acc.series_errors(points, list(KEYS)))
    )
    found = read_expectations(any_store, "backtests", ["m1", "m2"])
    assert found.missing == ["m2"]
    assert found.by_horizon["model_id"].unique().tolist() == ["m1"] and found.by_horizon["horizon"].tolist() == [1, 2]
    assert sorted(found.by_series["Store"].tolist()) == [1, 2]
