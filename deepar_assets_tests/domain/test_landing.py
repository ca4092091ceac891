"""Drop names, which file versions are new (the cursor), and one partition assembled and
checked; on the synthetic spec (Walmart's layout: weekly Friday partitions, a features table
keyed by Store, a stores metadata table) and on specs of other shapes."""

import pandas as pd
import pytest

from deepar_assets.domain.landing import (
    DropName,
    LandingLayout,
    PartitionDrop,
    assemble_partition,
    drop_request_from_tags,
    file_version,
    parse_drop_name,
    parse_file_version,
    plan_drops,
    read_cursor,
    rows_in_partitions,
)
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading import TableData, layout
from deepar_assets.domain.reading.tables import Rows
from deepar_assets.domain.spec import load_spec, parse_spec
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.base import ObjectInfo
from deepar_assets_tests.conftest import SMALL_SPEC
from deepar_assets_tests.domain.raw_samples import synthetic_raw

SPEC = load_spec("synthetic")
LAYOUT = LandingLayout.of(SPEC)
FIRST = "2010-02-05"

# Daily data in weekly (Monday) partitions, two related tables (one keyed by item, one global).
SHOP = parse_spec(
    """
name: shop
frequency: D
start: "2023-01-02"
partitions: W-MON
target: {name: units, file: units, ids: [shop, item], time: {column: day}, target: qty}
related:
  - {name: prices, file: prices, keys: [item], time: {column: day}, covariates: [price]}
  - {name: calendar, file: calendar, keys: [], time: {column: day}, covariates: [promo]}
metadata:
  - {name: items, file: items, keys: [item], attributes: {category: {kind: categorical}}}
covariates:
  promo: {type: bool, fill: zero, scale: none}
"""
)
SHOP_LAYOUT = LandingLayout.of(SHOP)


def info(key: str, size: int = 100, modified: float = 1000.0, etag: str | None = None) -> ObjectInfo:
    return ObjectInfo(key, size, modified, etag)


# -- names ------------------------------------------------------------------------------------


def test_the_layout_follows_the_spec():
    assert LAYOUT == LandingLayout("W-FRI", FIRST, "sales", ("features",), ("stores",))
    assert SHOP_LAYOUT == LandingLayout("W-MON", "2023-01-02", "units", ("prices", "calendar"), ("items",))
    daily = LandingLayout.of(load_spec("store_item_demand"))
    assert daily.first == "2012-12-31" and daily.tables == ("sales",)  # 2013-01-01 is in the week of Monday 12-31
    assert LandingLayout.of(load_spec("aus_retail")).tables == ("turnover",)


@pytest.mark.parametrize(
    "layout_, name, parsed",
    [
        (LAYOUT, "2012-10-26_sales.csv", DropName("2012-10-26", "sales", ".csv")),
        (LAYOUT, "2012-10-26_sales.csv.gz", DropName("2012-10-26", "sales", ".csv.gz")),
        (LAYOUT, "2010-02-05_features.csv", DropName("2010-02-05", "features", ".csv")),
        (SHOP_LAYOUT, "2023-03-06_units.parquet", DropName("2023-03-06", "units", ".parquet")),
        (SHOP_LAYOUT, "2023-03-06_calendar.csv", DropName("2023-03-06", "calendar", ".csv")),
        (
            LandingLayout.of(load_spec("aus_retail")),
            "1982-04-01_turnover.csv",
            DropName("1982-04-01", "turnover", ".csv"),
        ),
    ],
)
def test_drop_names_are_parsed(layout_, name, parsed):
    assert parse_drop_name(name, layout_) == parsed


@pytest.mark.parametrize(
    "layout_, name, message",
    [
        (LAYOUT, "train.csv", r"train\.csv: not a drop of a partition; expected YYYY-MM-DD_sales\.csv\[\.gz\] or "),
        (LAYOUT, "2012-10-26_stores.csv", r"stores is a metadata table: drop it as stores\.csv\[\.gz\]"),
        (LAYOUT, "2012-10-26_returns.csv", r"'returns' is not a table of the dataset"),
        (LAYOUT, "2012-10-26_sales.txt", r"not a drop of a partition"),
        (LAYOUT, "2012-13-01_sales.csv", r"'2012-13-01' is not a partition key as YYYY-MM-DD"),
        (LAYOUT, "12-10-26_sales.csv", r"'12-10-26' is not a partition key as YYYY-MM-DD"),
        (LAYOUT, "2012-1-5_sales.csv", r"'2012-1-5' is not a partition key as YYYY-MM-DD"),
        (
            LAYOUT,
            "2012-10-27_sales.csv",
            r"2012-10-27 is a Saturday, not the start of a partition \(W-FRI partitions start on a Friday\); "
            r"the partition holding it is 2012-10-26",
        ),
        (SHOP_LAYOUT, "2023-03-08_units.csv", r"2023-03-08 is a Wednesday, not the start .* holding it is 2023-03-06"),
        (
            LandingLayout.of(load_spec("aus_retail")),
            "1982-04-15_turnover.csv",
            r"1982-04-15 is not the start of a partition \(MS partitions start on the first day of a month\)",
        ),
    ],
)
def test_a_bad_name_is_reported_with_what_a_drop_is_called(layout_, name, message):
    with pytest.raises(DataValidationError, match=message):
        parse_drop_name(name, layout_)


def test_versions_are_size_and_etag_or_modification_time():
    assert file_version(info("a", 12, 1700000000.1234567)) == "12:1700000000.123457"
    assert file_version(info("a", 12, 1700000000.0, etag="abc-2")) == "12:abc-2"
    assert parse_file_version("12:1700000000.123457") == (12, None, 1700000000.123457)
    assert parse_file_version("12:abc-2") == (12, "abc-2", None)
    for bad in ("12", "x:abc", ":1.5", "12:"):
        with pytest.raises(DataValidationError, match=rf"file version '{bad}'"):
            parse_file_version(bad)


def test_a_version_that_comes_back_on_s3_is_a_new_request_with_a_new_run_key():
    """v1, v2, then v1 again: the third request used to have the first run's key
    (key:size:ETag), so Dagster skipped it and storage kept v2 while the zone held v1."""
    key = "2012-10-19_sales.csv"
    v1, v2, v1_again = info(key, 10, 100.0, etag="e1"), info(key, 12, 200.0, etag="e2"), info(key, 10, 300.0, etag="e1")
    first = plan_drops([v1], None, LAYOUT)
    second = plan_drops([v2], first.cursor, LAYOUT)
    third = plan_drops([v1_again], second.cursor, LAYOUT)
    keys = [plan.requests[0].run_key for plan in (first, second, third)]
    assert keys == [f"{key}:10:e1@100.000000", f"{key}:12:e2@200.000000", f"{key}:10:e1@300.000000"]
    assert third.requests[0].tags("s3://b/in", LAYOUT)["deepar/landing_versions"] == f'{{"{key}":"10:e1"}}'
    # The same upload seen again: nothing; its run key is stable (a restarted sensor's request is deduped).
    assert plan_drops([v1_again], third.cursor, LAYOUT).requests == []
    assert plan_drops([v1_again], None, LAYOUT).requests[0].run_key == keys[2]


def test_a_drop_name_with_a_trailing_newline_is_not_a_drop():
    with pytest.raises(DataValidationError, match="not a drop of a partition"):
        parse_drop_name("2012-10-26_sales.csv\n", LAYOUT)
    plan = plan_drops([info("2012-10-26_sales.csv\n", 10, 1.0)], None, LAYOUT)
    assert plan.requests == [] and len(plan.rejected) == 1


# -- which files are new ------------------------------------------------------------------


def test_each_partition_is_requested_once_with_its_files_in_the_run_key():
    listing = [
        info("2012-10-19_sales.csv", 10, 1.0),
        info("2012-10-26_features.csv", 20, 2.0),
        info("2012-10-26_sales.csv", 30, 3.0),
    ]
    plan = plan_drops(listing, None, LAYOUT)
    assert [(d.partition, d.target.key, [i.key for _, i in d.related]) for d in plan.requests] == [
        ("2012-10-19", "2012-10-19_sales.csv", []),
        ("2012-10-26", "2012-10-26_sales.csv", ["2012-10-26_features.csv"]),
    ]
    assert plan.requests[0].run_key == "2012-10-19_sales.csv:10:1.000000"
    assert plan.requests[1].run_key == "2012-10-26_sales.csv:30:3.000000|2012-10-26_features.csv:20:2.000000"
    assert read_cursor(plan.cursor) == {
        "2012-10-19_sales.csv": "10:1.000000",
        "2012-10-26_features.csv": "20:2.000000",
        "2012-10-26_sales.csv": "30:3.000000",
    }
    # The same files seen again: nothing; from the cursor alone, as after a restart.
    again = plan_drops(listing, str(plan.cursor), LAYOUT)
    assert again.requests == [] and again.cursor == plan.cursor
    # Without the cursor the run keys are the same, so Dagster's run keys still dedupe them.
    assert [d.run_key for d in plan_drops(listing, None, LAYOUT).requests] == [d.run_key for d in plan.requests]


def test_every_related_drop_of_a_partition_goes_with_its_target_drop_in_the_spec_order():
    listing = [
        info("2023-03-06_calendar.csv", 5, 1.0),
        info("2023-03-06_units.csv.gz", 30, 3.0),
        info("2023-03-06_prices.parquet", 20, 2.0),
        info("items.csv", 7, 1.0),  # metadata beside the drops: read with them, never a request of its own
        info("2023-03-13_prices.csv", 20, 2.0),  # waits for its target drop
    ]
    plan = plan_drops(listing, None, SHOP_LAYOUT)
    [drop] = plan.requests
    assert drop.run_key == (
        "2023-03-06_units.csv.gz:30:3.000000|2023-03-06_prices.parquet:20:2.000000|2023-03-06_calendar.csv:5:1.000000"
    )
    assert "2023-03-13_prices.csv waits for 2023-03-13_units.csv[.gz]" in plan.summary()
    request = drop_request_from_tags(drop.tags("s3://b/in", SHOP_LAYOUT), SHOP_LAYOUT)
    assert request.partition == "2023-03-06" and request.zone == "s3://b/in"
    assert request.target_key == "2023-03-06_units.csv.gz"
    assert request.related_keys == {"prices": "2023-03-06_prices.parquet", "calendar": "2023-03-06_calendar.csv"}
    assert request.versions["2023-03-06_prices.parquet"] == "20:2.000000"


def test_a_corrected_file_is_one_restatement_of_its_partition():
    listing = [info("2012-10-19_sales.csv", 10, 1.0), info("2012-10-19_features.csv", 5, 1.0)]
    first = plan_drops(listing, None, LAYOUT)
    corrected = [info("2012-10-19_sales.csv", 11, 9.0), listing[1]]
    plan = plan_drops(corrected, first.cursor, LAYOUT)
    assert [d.run_key for d in plan.requests] == ["2012-10-19_sales.csv:11:9.000000|2012-10-19_features.csv:5:1.000000"]
    # Only the features corrected: the partition again, reading the same sales drop.
    features_fixed = [corrected[0], info("2012-10-19_features.csv", 6, 10.0)]
    plan = plan_drops(features_fixed, plan.cursor, LAYOUT)
    assert [d.partition for d in plan.requests] == ["2012-10-19"]
    # Same content re-uploaded to S3: same size and ETag, so nothing new.
    s3 = [info("2012-10-19_sales.csv", 10, 1.0, etag="e1")]
    seen = plan_drops(s3, None, LAYOUT).cursor
    assert plan_drops([info("2012-10-19_sales.csv", 10, 50.0, etag="e1")], seen, LAYOUT).requests == []


def test_a_file_whose_key_sorts_first_or_whose_time_is_older_is_not_missed():
    plan = plan_drops([info("2012-10-26_sales.csv", 10, 100.0)], None, LAYOUT)
    late = [info("2012-10-26_sales.csv", 10, 100.0), info("2012-10-19_sales.csv", 10, 5.0)]
    plan = plan_drops(late, plan.cursor, LAYOUT)
    assert [d.partition for d in plan.requests] == ["2012-10-19"]


def test_a_related_drop_waits_for_its_target_drop():
    features = [info("2012-10-26_features.csv", 20, 2.0)]
    plan = plan_drops(features, None, LAYOUT)
    assert plan.requests == [] and read_cursor(plan.cursor) == {}
    assert "2012-10-26_features.csv waits for 2012-10-26_sales.csv" in plan.summary()
    plan = plan_drops([*features, info("2012-10-26_sales.csv", 30, 3.0)], plan.cursor, LAYOUT)
    assert [(d.target.key, d.related[0][1].key) for d in plan.requests] == [
        ("2012-10-26_sales.csv", "2012-10-26_features.csv")
    ]


def test_bad_names_and_early_partitions_are_rejected_once_per_version():
    listing = [
        info("notes.txt", 3, 1.0),
        info("2009-12-25_sales.csv", 3, 1.0),
        info(".2012-10-26_sales.csv.tmp", 3, 1.0),  # a writer's temporary file: silently ignored
        info("archive/2012-10-19_sales.csv", 3, 1.0),  # sub-folders are not looked into
        info("stores.csv", 3, 1.0),
        info("stores.csv.gz", 3, 1.0),
    ]
    plan = plan_drops(listing, None, LAYOUT)
    assert plan.requests == []
    assert [n.key for n in plan.rejected] == ["notes.txt", "2009-12-25_sales.csv"]
    assert "not a drop of a partition" in plan.rejected[0].reason
    assert "the partition 2009-12-25 is before the first partition 2010-02-05" in plan.rejected[1].reason
    assert plan_drops(listing, plan.cursor, LAYOUT).rejected == []
    changed = [info("notes.txt", 4, 2.0), *listing[1:]]
    assert [n.key for n in plan_drops(changed, plan.cursor, LAYOUT).rejected] == ["notes.txt"]


def test_partitions_not_complete_yet_fresh_files_and_doubles_wait_unrecorded():
    future = [info("2030-01-04_sales.csv", 3, 1.0)]
    plan = plan_drops(future, None, LAYOUT, last="2026-11-13")
    assert plan.requests == [] and read_cursor(plan.cursor) == {}
    assert "2030-01-04: the partition is not complete yet (the latest complete partition is 2026-11-13)" in (
        plan.summary()
    )
    assert [d.partition for d in plan_drops(future, plan.cursor, LAYOUT, last="2030-01-04").requests] == ["2030-01-04"]

    fresh = [info("2012-10-26_sales.csv", 3, 99.5)]
    plan = plan_drops(fresh, None, LAYOUT, now=100.0, settle_seconds=2)
    assert plan.requests == [] and "modified less than 2 s ago" in plan.summary()
    assert len(plan_drops(fresh, plan.cursor, LAYOUT, now=102.0, settle_seconds=2).requests) == 1

    doubles = [info("2012-10-26_sales.csv", 3, 1.0), info("2012-10-26_sales.csv.gz", 3, 1.0)]
    plan = plan_drops(doubles, None, LAYOUT)
    assert plan.requests == [] and "both 2012-10-26_sales.csv and 2012-10-26_sales.csv.gz exist" in plan.summary()
    assert len(plan_drops(doubles[1:], plan.cursor, LAYOUT).requests) == 1


def test_at_most_max_requests_per_look_oldest_first_and_gone_files_are_forgotten():
    listing = [info(f"2012-10-{day}_sales.csv", 3, 1.0) for day in ("05", "12", "19")]
    plan = plan_drops(listing, None, LAYOUT, max_requests=2)
    assert [d.partition for d in plan.requests] == ["2012-10-05", "2012-10-12"]
    plan = plan_drops(listing, plan.cursor, LAYOUT, max_requests=2)
    assert [d.partition for d in plan.requests] == ["2012-10-19"]
    assert set(read_cursor(plan_drops(listing[2:], plan.cursor, LAYOUT).cursor)) == {"2012-10-19_sales.csv"}


def test_hourly_partitions_are_ordered_by_time():
    hourly = LandingLayout("h", "2024-01-01-00:00", "load")
    listing = [info(f"2024-01-0{d}-{h}:00_load.csv", 3, 1.0) for d, h in ((2, "03"), (1, "23"), (2, "00"))]
    assert [d.partition for d in plan_drops(listing, None, hourly).requests] == [
        "2024-01-01-23:00",
        "2024-01-02-00:00",
        "2024-01-02-03:00",
    ]
    with pytest.raises(DataValidationError, match=r"2024-01-01-00:30 is not the start of a partition"):
        parse_drop_name("2024-01-01-00:30_load.csv", hourly)


def test_a_foreign_cursor_is_a_clear_error():
    with pytest.raises(DataValidationError, match="is not one this sensor wrote"):
        plan_drops([], "2012-10-26_sales.csv", LAYOUT)


def test_the_run_tags_say_which_files_the_run_reads():
    drop = PartitionDrop(
        "2012-10-26",
        info("2012-10-26_sales.csv.gz", 7, 1.0, "e"),
        (("features", info("2012-10-26_features.csv", 8, 2.0)),),
    )
    request = drop_request_from_tags({**drop.tags("s3://b/landing", LAYOUT), "dagster/partition": "2012-10-26"}, LAYOUT)
    assert request.partition == "2012-10-26" and request.zone == "s3://b/landing"
    assert request.target_key == "2012-10-26_sales.csv.gz" and request.related_keys == {
        "features": "2012-10-26_features.csv"
    }
    assert request.versions == {"2012-10-26_sales.csv.gz": "7:e", "2012-10-26_features.csv": "8:2.000000"}
    assert drop_request_from_tags({"dagster/partition": "2012-10-26"}, LAYOUT) is None
    tags = drop.tags("s3://b/landing", LAYOUT)
    with pytest.raises(
        DataValidationError,
        match="2012-10-26_sales.csv.gz is not the drop of the table sales for the partition 2012-10-19",
    ):
        drop_request_from_tags({**tags, "deepar/landing_partition": "2012-10-19"}, LAYOUT)


# -- one partition's rows ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw() -> RawData:
    return synthetic_raw(SMALL_SPEC, SPEC)


def _week(raw, i) -> pd.Timestamp:
    return sorted(raw.target["Date"].unique())[i]


def _key(week) -> str:
    return f"{pd.Timestamp(week):%Y-%m-%d}"


def table(name: str, frame: pd.DataFrame, where: str, spec=SPEC) -> TableData:
    return TableData(layout(spec, spec.table(name)), frame.reset_index(drop=True), Rows([(where, 0, "csv")]))


def assemble(raw, week, target, *, features=None, stored_window=None, stored_ahead=None, stores=None):
    return assemble_partition(
        SPEC,
        _key(week),
        table("sales", target, "landing/W_sales.csv"),
        {"stores": table("stores", raw.metadata["stores"] if stores is None else stores, "raw/stores.parquet")},
        related_drops={} if features is None else {"features": table("features", features, "landing/W_features.csv")},
        stored_window={"features": stored_window},
        stored_ahead={"features": stored_ahead},
        stored_names={"features": "raw/features/W.parquet, raw/features_ahead.parquet"},
    )


def test_a_partition_is_its_target_rows_with_the_related_rows_stored_ahead(raw):
    week = _week(raw, 10)
    sales = raw.target[raw.target["Date"] == week].reset_index(drop=True)
    features = raw.related["features"]
    ahead = features[features["Date"] >= week]
    assembled = assemble(raw, week, sales, stored_ahead=ahead)
    pd.testing.assert_frame_equal(assembled.target, sales)
    assert assembled.related["features"]["Date"].min() == week
    assert len(assembled.related["features"]) == len(ahead)
    assert assembled.source == "landing/W_sales.csv"
    assert assembled.oddities["negative_target_rows"] == int((sales["Weekly_Sales"] < 0).sum())
    in_week = rows_in_partitions(assembled, [_key(week)])
    assert len(in_week.related["features"]) == SMALL_SPEC.n_stores and in_week.metadata == assembled.metadata


def test_the_drop_related_rows_win_over_those_stored(raw):
    week, next_week = _week(raw, 10), _week(raw, 11)
    features = raw.related["features"]
    sales = raw.target[raw.target["Date"] == week]
    stored = features[features["Date"] == week]
    ahead = features[features["Date"] > week]
    drop = features[features["Date"].isin([week, next_week])].copy()
    drop["Temperature"] = 99.0
    out = assemble(raw, week, sales, features=drop, stored_window=stored, stored_ahead=ahead).related["features"]
    assert (out.loc[out["Date"].isin([week, next_week]), "Temperature"] == 99.0).all()
    assert (out.loc[out["Date"] > next_week, "Temperature"] != 99.0).any()
    assert not out.duplicated(["Store", "Date"]).any()
    assert len(out) == len(stored) + len(ahead)


def test_a_row_of_another_partition_names_the_file_the_line_and_the_partition(raw):
    week = _week(raw, 10)
    sales = raw.target[raw.target["Date"].isin([week, _week(raw, 11)])].sort_values("Date", ignore_index=True)
    first_other = int((sales["Date"] != week).to_numpy().argmax())
    with pytest.raises(DataValidationError) as caught:
        assemble(raw, week, sales, stored_ahead=raw.related["features"])
    message = str(caught.value)
    assert message.startswith(
        f"landing/W_sales.csv, line {first_other + 2}, column Date: found {_key(_week(raw, 11))}, expected {_key(week)}"
    )
    assert "the file name says which partition a drop holds" in message
    earlier = raw.related["features"][raw.related["features"]["Date"] == _week(raw, 9)]
    with pytest.raises(
        DataValidationError,
        match=rf"W_features\.csv, line 2, column Date: found {_key(_week(raw, 9))}, expected {_key(week)} or later",
    ):
        assemble(raw, week, sales[sales["Date"] == week], features=earlier, stored_ahead=raw.related["features"])


def test_target_rows_without_their_related_rows_or_attributes_are_refused(raw):
    week = _week(raw, 10)
    sales = raw.target[raw.target["Date"] == week]
    features = raw.related["features"]
    no_store_1 = features[(features["Date"] == week) & (features["Store"] != 1)]
    with pytest.raises(DataValidationError, match=r"line 2: Store 1 has sales rows but landing/W_features\.csv"):
        assemble(raw, week, sales, features=no_store_1)
    later_only = pd.concat([no_store_1, features[(features["Date"] == _week(raw, 11)) & (features["Store"] == 1)]])
    with pytest.raises(
        DataValidationError,
        match=rf"Store 1 has sales rows in the period {_key(week)} but landing/W_features\.csv .* has no row for that "
        "Store and period",
    ):
        assemble(raw, week, sales, features=later_only)
    with pytest.raises(
        DataValidationError,
        match=r"but the stored features rows \(.*; there is no 2010-04-16_features drop\) has no row for it",
    ):
        assemble(raw, week, sales)  # nothing stored either
    stores = raw.metadata["stores"]
    with pytest.raises(DataValidationError, match=r"Store 1 is missing from raw/stores\.parquet"):
        assemble(raw, week, sales, stored_ahead=features, stores=stores[stores["Store"] != 1])


def test_related_rows_and_attributes_of_series_outside_the_drop_are_no_error(raw):
    week = _week(raw, 10)
    sales = raw.target[(raw.target["Date"] == week) & (raw.target["Store"] != 2)]  # store 2 sold nothing this week
    assembled = assemble(raw, week, sales, stored_ahead=raw.related["features"])
    assert 2 in set(assembled.related["features"]["Store"]) and 2 in set(assembled.metadata["stores"]["Store"])


def test_a_daily_partition_holds_its_week_of_days():
    days = pd.date_range("2023-03-06", periods=7, freq="D")
    units = pd.DataFrame({"shop": "a", "item": "x", "day": days, "qty": range(7)}).astype({"qty": float})
    prices = pd.DataFrame({"item": "x", "day": pd.date_range("2023-03-06", periods=14), "price": 2.5})
    calendar = pd.DataFrame({"day": days, "promo": 0.0})
    items = pd.DataFrame({"item": ["x", "y"], "category": ["food", "toys"]})

    def shop_assemble(frame):
        return assemble_partition(
            SHOP,
            "2023-03-06",
            table("units", frame, "in/2023-03-06_units.csv", SHOP),
            {"items": table("items", items, "raw/metadata/items.parquet", SHOP)},
            related_drops={"prices": table("prices", prices, "in/2023-03-06_prices.csv", SHOP)},
            stored_window={"prices": None, "calendar": calendar},
            stored_ahead={"prices": None, "calendar": None},
            stored_names={},
        )

    assembled = shop_assemble(units)
    assert len(assembled.target) == 7 and len(assembled.related["prices"]) == 14
    assert assembled.related["calendar"]["day"].tolist() == list(days)
    late = pd.concat([units, units.tail(1).assign(day=pd.Timestamp("2023-03-13"))], ignore_index=True)
    with pytest.raises(
        DataValidationError,
        match=r"in/2023-03-06_units\.csv, line 9, column day: found 2023-03-13, expected a period from 2023-03-06 to "
        r"2023-03-12",
    ):
        shop_assemble(late)
