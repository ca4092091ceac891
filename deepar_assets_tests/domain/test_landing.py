"""Drop names, which file versions are new (the cursor), and one week assembled and checked."""

import pandas as pd
import pytest

from deepar_assets.domain.kaggle import read_kaggle
from deepar_assets.domain.landing import (
    DropName,
    WeekDrop,
    assemble_week,
    drop_request_from_tags,
    file_version,
    parse_drop_name,
    plan_drops,
    read_cursor,
)
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.base import ObjectInfo

FIRST = "2010-02-05"


def info(key: str, size: int = 100, modified: float = 1000.0, etag: str | None = None) -> ObjectInfo:
    return ObjectInfo(key, size, modified, etag)


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, parsed",
    [
        ("2012-10-26_sales.csv", DropName("2012-10-26", "sales", False)),
        ("2012-10-26_sales.csv.gz", DropName("2012-10-26", "sales", True)),
        ("2010-02-05_features.csv", DropName("2010-02-05", "features", False)),
    ],
)
def test_drop_names_are_parsed(name, parsed):
    assert parse_drop_name(name) == parsed


@pytest.mark.parametrize(
    "name, message",
    [
        ("train.csv", r"train\.csv: not a weekly drop; expected YYYY-MM-DD_sales\.csv\[\.gz\]"),
        ("2012-10-26_stores.csv", r"not a weekly drop"),
        ("2012-10-26_sales.txt", r"not a weekly drop"),
        ("2012-13-01_sales.csv", r"'2012-13-01' is not a date as YYYY-MM-DD"),
        ("12-10-26_sales.csv", r"'12-10-26' is not a date as YYYY-MM-DD"),
        ("2012-10-27_sales.csv", r"2012-10-27 is a Saturday; expected the Friday that names the week"),
    ],
)
def test_a_bad_name_is_reported_with_what_a_drop_is_called(name, message):
    with pytest.raises(DataValidationError, match=message):
        parse_drop_name(name)


def test_versions_are_size_and_etag_or_modification_time():
    assert file_version(info("a", 12, 1700000000.1234567)) == "12:1700000000.123457"
    assert file_version(info("a", 12, 1700000000.0, etag="abc-2")) == "12:abc-2"


# -- which files are new ------------------------------------------------------------------


def test_each_week_is_requested_once_with_its_files_in_the_run_key():
    listing = [
        info("2012-10-19_sales.csv", 10, 1.0),
        info("2012-10-26_features.csv", 20, 2.0),
        info("2012-10-26_sales.csv", 30, 3.0),
    ]
    plan = plan_drops(listing, None, first_week=FIRST)
    assert [(d.week, d.sales.key, d.features and d.features.key) for d in plan.requests] == [
        ("2012-10-19", "2012-10-19_sales.csv", None),
        ("2012-10-26", "2012-10-26_sales.csv", "2012-10-26_features.csv"),
    ]
    assert plan.requests[0].run_key == "2012-10-19_sales.csv:10:1.000000"
    assert plan.requests[1].run_key == "2012-10-26_sales.csv:30:3.000000|2012-10-26_features.csv:20:2.000000"
    assert read_cursor(plan.cursor) == {
        "2012-10-19_sales.csv": "10:1.000000",
        "2012-10-26_features.csv": "20:2.000000",
        "2012-10-26_sales.csv": "30:3.000000",
    }
    # The same files seen again: nothing; from the cursor alone, as after a restart.
    again = plan_drops(listing, str(plan.cursor), first_week=FIRST)
    assert again.requests == [] and again.cursor == plan.cursor
    # Without the cursor the run keys are the same, so Dagster's run keys still dedupe them.
    assert [d.run_key for d in plan_drops(listing, None, first_week=FIRST).requests] == [
        d.run_key for d in plan.requests
    ]


def test_a_corrected_file_is_one_restatement_of_its_week():
    listing = [info("2012-10-19_sales.csv", 10, 1.0), info("2012-10-19_features.csv", 5, 1.0)]
    first = plan_drops(listing, None, first_week=FIRST)
    corrected = [info("2012-10-19_sales.csv", 11, 9.0), listing[1]]
    plan = plan_drops(corrected, first.cursor, first_week=FIRST)
    assert [d.run_key for d in plan.requests] == ["2012-10-19_sales.csv:11:9.000000|2012-10-19_features.csv:5:1.000000"]
    # Only the features corrected: the week again, reading the same sales drop.
    features_fixed = [corrected[0], info("2012-10-19_features.csv", 6, 10.0)]
    plan = plan_drops(features_fixed, plan.cursor, first_week=FIRST)
    assert [d.week for d in plan.requests] == ["2012-10-19"]
    # Same content re-uploaded to S3: same size and ETag, so nothing new.
    s3 = [info("2012-10-19_sales.csv", 10, 1.0, etag="e1")]
    seen = plan_drops(s3, None, first_week=FIRST).cursor
    assert plan_drops([info("2012-10-19_sales.csv", 10, 50.0, etag="e1")], seen, first_week=FIRST).requests == []


def test_a_file_whose_key_sorts_first_or_whose_time_is_older_is_not_missed():
    plan = plan_drops([info("2012-10-26_sales.csv", 10, 100.0)], None, first_week=FIRST)
    late = [info("2012-10-26_sales.csv", 10, 100.0), info("2012-10-19_sales.csv", 10, 5.0)]
    plan = plan_drops(late, plan.cursor, first_week=FIRST)
    assert [d.week for d in plan.requests] == ["2012-10-19"]


def test_a_features_drop_waits_for_its_sales_drop():
    features = [info("2012-10-26_features.csv", 20, 2.0)]
    plan = plan_drops(features, None, first_week=FIRST)
    assert plan.requests == [] and read_cursor(plan.cursor) == {}
    assert "2012-10-26_features.csv waits for 2012-10-26_sales.csv" in plan.summary()
    plan = plan_drops([*features, info("2012-10-26_sales.csv", 30, 3.0)], plan.cursor, first_week=FIRST)
    assert [(d.sales.key, d.features.key) for d in plan.requests] == [
        ("2012-10-26_sales.csv", "2012-10-26_features.csv")
    ]


def test_bad_names_and_early_weeks_are_rejected_once_per_version():
    listing = [
        info("notes.txt", 3, 1.0),
        info("2009-12-25_sales.csv", 3, 1.0),
        info(".2012-10-26_sales.csv.tmp", 3, 1.0),  # a writer's temporary file: silently ignored
        info("archive/2012-10-19_sales.csv", 3, 1.0),  # sub-folders are not looked into
        info("stores.csv", 3, 1.0),
    ]
    plan = plan_drops(listing, None, first_week=FIRST)
    assert plan.requests == []
    assert [n.key for n in plan.rejected] == ["notes.txt", "2009-12-25_sales.csv"]
    assert "not a weekly drop" in plan.rejected[0].reason
    assert "the week 2009-12-25 is before the first week 2010-02-05" in plan.rejected[1].reason
    assert plan_drops(listing, plan.cursor, first_week=FIRST).rejected == []
    changed = [info("notes.txt", 4, 2.0), *listing[1:]]
    assert [n.key for n in plan_drops(changed, plan.cursor, first_week=FIRST).rejected] == ["notes.txt"]


def test_weeks_not_complete_yet_fresh_files_and_doubles_wait_unrecorded():
    future = [info("2030-01-04_sales.csv", 3, 1.0)]
    plan = plan_drops(future, None, first_week=FIRST, last_week="2026-11-13")
    assert plan.requests == [] and read_cursor(plan.cursor) == {}
    assert "2030-01-04: the week is not complete yet (the latest week is 2026-11-13)" in plan.summary()
    assert [d.week for d in plan_drops(future, plan.cursor, first_week=FIRST, last_week="2030-01-04").requests] == [
        "2030-01-04"
    ]

    fresh = [info("2012-10-26_sales.csv", 3, 99.5)]
    plan = plan_drops(fresh, None, first_week=FIRST, now=100.0, settle_seconds=2)
    assert plan.requests == [] and "modified less than 2 s ago" in plan.summary()
    assert len(plan_drops(fresh, plan.cursor, first_week=FIRST, now=102.0, settle_seconds=2).requests) == 1

    doubles = [info("2012-10-26_sales.csv", 3, 1.0), info("2012-10-26_sales.csv.gz", 3, 1.0)]
    plan = plan_drops(doubles, None, first_week=FIRST)
    assert plan.requests == [] and "both 2012-10-26_sales.csv and 2012-10-26_sales.csv.gz exist" in plan.summary()
    assert len(plan_drops(doubles[1:], plan.cursor, first_week=FIRST).requests) == 1


def test_at_most_max_requests_per_look_oldest_first_and_gone_files_are_forgotten():
    listing = [info(f"2012-10-{day}_sales.csv", 3, 1.0) for day in ("05", "12", "19")]
    plan = plan_drops(listing, None, first_week=FIRST, max_requests=2)
    assert [d.week for d in plan.requests] == ["2012-10-05", "2012-10-12"]
    plan = plan_drops(listing, plan.cursor, first_week=FIRST, max_requests=2)
    assert [d.week for d in plan.requests] == ["2012-10-19"]
    assert set(read_cursor(plan_drops(listing[2:], plan.cursor, first_week=FIRST).cursor)) == {"2012-10-19_sales.csv"}


def test_a_foreign_cursor_is_a_clear_error():
    with pytest.raises(DataValidationError, match="is not one this sensor wrote"):
        plan_drops([], "2012-10-26_sales.csv", first_week=FIRST)


def test_the_run_tags_say_which_files_the_run_reads():
    drop = WeekDrop("2012-10-26", info("2012-10-26_sales.csv.gz", 7, 1.0, "e"), info("2012-10-26_features.csv", 8, 2.0))
    request = drop_request_from_tags({**drop.tags("s3://b/landing"), "dagster/partition": "2012-10-26"})
    assert request.week == "2012-10-26" and request.zone == "s3://b/landing"
    assert request.sales_key == "2012-10-26_sales.csv.gz" and request.features_key == "2012-10-26_features.csv"
    assert request.versions == {"2012-10-26_sales.csv.gz": "7:e", "2012-10-26_features.csv": "8:2.000000"}
    assert drop_request_from_tags({"dagster/partition": "2012-10-26"}) is None


# -- one week's rows -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(small_source):
    return read_kaggle(small_source)


NAMES = {"sales": "landing/W_sales.csv", "features": "landing/W_features.csv", "stores": "raw/stores.parquet"}


def _week(raw, i):
    return sorted(raw.sales["Date"].unique())[i]


def test_a_week_is_its_sales_with_the_features_stored_ahead(raw):
    week = _week(raw, 10)
    sales = raw.sales[raw.sales["Date"] == week].reset_index(drop=True)
    ahead = raw.features[raw.features["Date"] >= week]
    assembled = assemble_week(
        week, sales, raw.stores, features_drop=None, stored_week_features=None, stored_ahead=ahead, names=NAMES
    )
    pd.testing.assert_frame_equal(assembled.sales, sales)
    assert assembled.features["Date"].min() == week
    assert len(assembled.features) == len(ahead)
    assert assembled.source == NAMES["sales"]


def test_the_drop_features_win_over_those_stored(raw):
    week = _week(raw, 10)
    sales = raw.sales[raw.sales["Date"] == week].reset_index(drop=True)
    stored = raw.features[raw.features["Date"] == week].reset_index(drop=True)
    ahead = raw.features[raw.features["Date"] > week].reset_index(drop=True)
    drop = raw.features[raw.features["Date"].isin([week, _week(raw, 11)])].copy()
    drop["Temperature"] = 99.0
    assembled = assemble_week(
        week, sales, raw.stores, features_drop=drop, stored_week_features=stored, stored_ahead=ahead, names=NAMES
    )
    features = assembled.features
    assert (features.loc[features["Date"].isin([week, _week(raw, 11)]), "Temperature"] == 99.0).all()
    assert (features.loc[features["Date"] > _week(raw, 11), "Temperature"] != 99.0).any()
    assert not features.duplicated(["Store", "Date"]).any()
    assert len(features) == len(stored) + len(ahead)


def test_a_row_of_another_week_names_the_file_the_line_and_the_week(raw):
    week = _week(raw, 10)
    sales = raw.sales[raw.sales["Date"].isin([week, _week(raw, 11)])].sort_values("Date", ignore_index=True)
    first_other = int((sales["Date"] != week).to_numpy().argmax())
    with pytest.raises(DataValidationError) as caught:
        assemble_week(
            week,
            sales,
            raw.stores,
            features_drop=None,
            stored_week_features=None,
            stored_ahead=raw.features,
            names=NAMES,
        )
    message = str(caught.value)
    assert message.startswith(
        f"landing/W_sales.csv, line {first_other + 2}, column Date: found {_week(raw, 11):%Y-%m-%d}"
    )
    assert f"expected {week:%Y-%m-%d}: the file name says which week a drop holds" in message
    earlier = raw.features[raw.features["Date"] == _week(raw, 9)]
    with pytest.raises(
        DataValidationError,
        match=rf"W_features\.csv, line 2, column Date: found {_week(raw, 9):%Y-%m-%d}, expected {week:%Y-%m-%d} or later",
    ):
        assemble_week(
            week,
            sales[sales["Date"] == week],
            raw.stores,
            features_drop=earlier,
            stored_week_features=None,
            stored_ahead=raw.features,
            names=NAMES,
        )


def test_sales_without_the_week_features_or_store_attributes_are_refused(raw):
    week = _week(raw, 10)
    sales = raw.sales[raw.sales["Date"] == week].reset_index(drop=True)
    no_store_1 = raw.features[(raw.features["Date"] == week) & (raw.features["Store"] != 1)]
    with pytest.raises(
        DataValidationError,
        match=f"store 1 has sales in the week {week:%Y-%m-%d} but landing/W_features.csv has no row",
    ):
        assemble_week(
            week, sales, raw.stores, features_drop=no_store_1, stored_week_features=None, stored_ahead=None, names=NAMES
        )
    with pytest.raises(DataValidationError, match=r"store\(s\) \[1\] are missing from raw/stores\.parquet"):
        assemble_week(
            week,
            sales,
            raw.stores[raw.stores["Store"] != 1],
            features_drop=None,
            stored_week_features=None,
            stored_ahead=raw.features,
            names=NAMES,
        )
