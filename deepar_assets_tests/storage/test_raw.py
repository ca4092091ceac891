"""Raw partitions stored as Parquet, one object per partition and table, for any spec."""

import warnings

import numpy as np
import pandas as pd
import pytest

from deepar_assets.domain.encoding import encode
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.spec import DatasetSpec, load_spec, periods
from deepar_assets.errors import DataValidationError
from deepar_assets.storage.local import FolderStore
from deepar_assets.storage.raw import (
    LOG_PREFIX,
    StoredRaw,
    longest_new_gap,
    read_ahead,
    read_metadata,
    read_partition,
    read_stored,
    stored_partitions,
    write_partitions,
)
from deepar_assets.storage.raw.layout import to_parquet


@pytest.fixture
def raw(small_source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_dataset(load_spec("synthetic"), small_source)


@pytest.fixture
def store(tmp_path):
    return FolderStore(tmp_path / "store")


def _keys(raw, n=None):
    keys = sorted({periods.partition_key(t, raw.spec.partition_frequency) for t in raw.target[raw.spec.time]})
    return keys if n is None else keys[:n]


def test_every_value_survives_a_round_trip(raw, store):
    result = write_partitions(store, raw, _keys(raw))
    assert result["rows"] == len(raw.target) and result["partitions"] == len(_keys(raw))
    back = read_stored(store, raw.spec)
    assert back.spec is raw.spec
    key = ["Store", "Dept", "Date"]
    expected = raw.target.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(back.target.sort_values(key).reset_index(drop=True), expected)
    pd.testing.assert_frame_equal(back.metadata["stores"], raw.metadata["stores"])
    # Related: every stored period plus the periods known ahead.
    features = raw.related["features"].sort_values(["Store", "Date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        back.related["features"].sort_values(["Store", "Date"]).reset_index(drop=True), features
    )


def test_rewriting_a_partition_replaces_its_rows(raw, store):
    keys = _keys(raw, 5)
    write_partitions(store, raw, keys)
    write_partitions(store, raw, keys[2:3])  # the same partition again
    back = read_stored(store, raw.spec)
    week = pd.Timestamp(keys[2])
    assert len(back.target) == int(raw.target["Date"].isin(pd.to_datetime(keys)).sum())
    assert not back.target.duplicated(["Store", "Dept", "Date"]).any()
    assert not back.related["features"].duplicated(["Store", "Date"]).any()
    # A restated partition replaces the old figures.
    restated = raw.target.copy()
    restated.loc[restated["Date"] == week, "Weekly_Sales"] += 1.0
    raw.target = restated
    write_partitions(store, raw, keys[2:3])
    back = read_stored(store, raw.spec)
    got = back.target[back.target["Date"] == week].sort_values(["Store", "Dept"])["Weekly_Sales"].tolist()
    assert got == restated[restated["Date"] == week].sort_values(["Store", "Dept"])["Weekly_Sales"].tolist()


def test_a_bad_request_stores_nothing_and_keeps_earlier_partitions(raw, store):
    keys = _keys(raw)
    write_partitions(store, raw, keys[:3])
    before = {key: store.get_bytes(key) for key in store.list_keys()}
    with pytest.raises(DataValidationError, match="no sales rows for the partition.*2030-01-04"):
        write_partitions(store, raw, [*keys[3:6], "2030-01-04"])
    assert {key: store.get_bytes(key) for key in store.list_keys()} == before
    with pytest.raises(DataValidationError, match="partition key 'not-a-week'"):
        write_partitions(store, raw, ["not-a-week"])

    # A partition whose target rows have no related row for their store: refused, nothing written.
    features = raw.related["features"]
    raw.related["features"] = features[~((features["Date"] == pd.Timestamp(keys[4])) & (features["Store"] == 1))]
    with pytest.raises(DataValidationError, match=f"partition {keys[4]} has sales rows for Store 1.*no features row"):
        write_partitions(store, raw, keys[3:6])
    assert {key: store.get_bytes(key) for key in store.list_keys()} == before


def test_partitions_are_listed_and_related_rows_ahead_start_after_the_last_partition(raw, store):
    keys = _keys(raw, 4)
    write_partitions(store, raw, keys)
    assert stored_partitions(store, raw.spec) == keys
    manifest = StoredRaw(store, raw.spec).manifest
    for table in ("sales", "features"):
        entry = manifest.partitions(table)[keys[0]]
        assert entry.key.startswith(f"raw/{table}/{keys[0]}/") and store.exists(entry.key)
    assert store.exists(manifest.metadata["stores"].key)
    assert store.list_keys(f"{LOG_PREFIX}/") == [f"{LOG_PREFIX}/0000000000.json"]
    ahead = read_ahead(store, raw.spec, "features")
    assert ahead["Date"].min() == pd.Timestamp(keys[-1]) + pd.Timedelta(weeks=1)
    assert ahead["Date"].max() == raw.related["features"]["Date"].max()
    # Read back: the stored partitions' related rows, then the ones ahead, none twice.
    related = read_stored(store, raw.spec).related["features"]
    assert related["Date"].min() == pd.Timestamp(keys[0])
    assert related["Date"].max() == raw.related["features"]["Date"].max()
    assert not related.duplicated(["Store", "Date"]).any()
    # What the landing code reads: one partition's related rows, the metadata.
    week = read_partition(store, raw.spec, "features", keys[1])
    assert set(week["Date"]) == {pd.Timestamp(keys[1])} and len(week) == raw.metadata["stores"].shape[0]
    assert read_partition(store, raw.spec, "features", "2030-01-04") is None
    pd.testing.assert_frame_equal(read_metadata(store, raw.spec, "stores"), raw.metadata["stores"])
    # A later partition moves the start of the rows ahead.
    write_partitions(store, raw, _keys(raw)[4:6])
    assert read_ahead(store, raw.spec, "features")["Date"].min() == pd.Timestamp(_keys(raw)[5]) + pd.Timedelta(weeks=1)


def test_nothing_stored_is_a_clear_error(store, raw):
    with pytest.raises(DataValidationError, match="materialize raw_sales first"):
        read_stored(store, raw.spec)
    assert stored_partitions(store, raw.spec) == []
    assert read_ahead(store, raw.spec, "features") is None and read_metadata(store, raw.spec, "stores") is None


def test_daily_data_in_weekly_partitions(store):
    """store_item_demand's layout: string-free int ids, daily rows, W-MON partitions, no related tables."""
    spec = load_spec("store_item_demand")
    days = pd.date_range("2013-01-01", "2013-01-20")  # a Tuesday to a Sunday
    target = pd.DataFrame(
        {
            "store": np.repeat([1, 2], len(days)).astype(np.int64),
            "item": np.int64(7),
            "date": np.tile(days, 2),
            "sales": np.arange(2 * len(days), dtype=np.float64),
        }
    )
    raw = RawData(spec, target)
    keys = sorted({periods.partition_key(d, spec.partition_frequency) for d in days})
    assert keys == ["2012-12-31", "2013-01-07", "2013-01-14"]
    write_partitions(store, raw, keys)
    assert stored_partitions(store, spec) == keys
    assert len(read_partition(store, spec, "sales", "2013-01-07")) == 14
    back = read_stored(store, spec)
    pd.testing.assert_frame_equal(back.target.sort_values(["store", "date"]).reset_index(drop=True), target)
    assert back.related == {} and back.metadata == {}


def test_string_ids_and_a_global_related_table(store):
    spec = DatasetSpec.model_validate(
        {
            "name": "g", "frequency": "MS", "start": "2020-01-01",
            "target": {"file": "t", "ids": ["state"], "time": {"column": "month"}, "target": "y"},
            "related": [{"name": "rates", "file": "r", "time": {"column": "month"}, "covariates": ["rate"]}],
        }
    )  # fmt: skip
    months = pd.date_range("2020-01-01", periods=4, freq="MS")
    target = pd.DataFrame({"state": np.repeat(["NSW", "Vic"], 3), "month": np.tile(months[:3], 2), "y": 1.0})
    rates = pd.DataFrame({"month": months, "rate": [0.1, 0.2, 0.3, 0.4]})
    write_partitions(store, RawData(spec, target, {"rates": rates}), ["2020-01-01", "2020-02-01"])
    back = read_stored(store, spec)
    assert back.target["state"].tolist() == ["NSW", "Vic", "NSW", "Vic"]
    assert back.related["rates"]["rate"].tolist() == [0.1, 0.2, 0.3, 0.4]


# -- #18 item 16: a partition with no target rows ------------------------------------------------------


def test_a_partition_without_target_rows_inside_the_source_is_stored_empty_and_reported(raw, store):
    """A store-wide gap is data, not corruption: the load goes through, says which partition is
    empty, and the encoder sees missing values for its period. Before: the whole load was refused."""
    keys = _keys(raw)
    gap = keys[20]
    raw.target = raw.target[raw.target["Date"] != pd.Timestamp(gap)].reset_index(drop=True)
    result = write_partitions(store, raw, keys)
    assert result["empty_partitions"] == [gap] and result["rows"] == len(raw.target)
    assert stored_partitions(store, raw.spec) == keys
    back = read_stored(store, raw.spec)
    assert len(back.target) == len(raw.target) and not (back.target["Date"] == pd.Timestamp(gap)).any()
    encoded = encode(back)
    column = list(encoded.periods).index(pd.Timestamp(gap))
    assert np.isnan(encoded.target[:, column]).all()
    assert not np.isnan(encoded.target[:, column - 1]).all() and not np.isnan(encoded.target[:, column + 1]).all()
    # Partitions wholly outside the source's periods stay an error naming its range.
    with pytest.raises(DataValidationError, match=r"no sales rows for the partition\(s\) 2030-01-04; the source has"):
        write_partitions(store, raw, [*keys[-2:], "2030-01-04"])


# -- #18 item 6: a load far from the history -----------------------------------------------------------


def test_a_load_long_after_the_history_is_refused_unless_allowed(raw, store, tmp_path):
    keys = _keys(raw)
    write_partitions(store, raw, keys[:5])
    far = keys[60]  # 56 weeks after the last stored one: 55 periods missing, more than the default 52
    with pytest.raises(DataValidationError) as error:
        write_partitions(store, raw, [far])
    message = str(error.value)
    assert f"partition {far}: its first period {far} comes 55 periods after the last stored period {keys[4]}" in message
    assert "evaluation.max_gap_periods (52)" in message and "allow_gap: true" in message
    assert stored_partitions(store, raw.spec) == keys[:5]
    write_partitions(store, raw, [far], allow_gap=True)  # the run config's way around it
    assert stored_partitions(store, raw.spec) == [*keys[:5], far]
    # 52 missing periods, the limit itself, are accepted.
    other = FolderStore(tmp_path / "other")
    write_partitions(other, raw, keys[:5])
    write_partitions(other, raw, keys[57:58])
    assert stored_partitions(other, raw.spec) == [*keys[:5], keys[57]]


def test_a_bulk_load_with_a_long_empty_stretch_is_refused_unless_allowed(raw, store):
    keys = _keys(raw)
    gone = pd.to_datetime(keys[10:64])  # 54 weeks without sales
    raw.target = raw.target[~raw.target["Date"].isin(gone)].reset_index(drop=True)
    with pytest.raises(DataValidationError, match=rf"has no sales rows for the 54 periods between {keys[9]} and "):
        write_partitions(store, raw, keys)
    assert stored_partitions(store, raw.spec) == []
    assert len(write_partitions(store, raw, keys, allow_gap=True)["empty_partitions"]) == 54


def test_the_longest_gap_next_to_new_periods():
    weeks = pd.date_range("2020-01-03", periods=10, freq="W-FRI")
    stored = [(weeks[0], weeks[2])]
    assert longest_new_gap(stored, weeks[3:5], "W-FRI") is None  # contiguous
    gap = longest_new_gap(stored, [weeks[7], weeks[9]], "W-FRI")
    assert (gap.before, gap.after, gap.missing, gap.before_is_new, gap.after_is_new) == (
        weeks[2],
        weeks[7],
        4,
        False,
        True,
    )
    # A gap stored already was accepted then: filling part of it is not refused.
    assert longest_new_gap([(weeks[0], weeks[0]), (weeks[9], weeks[9])], [weeks[1]], "W-FRI") is None
    months = pd.date_range("2020-01-01", periods=4, freq="MS")
    assert longest_new_gap([], [months[0], months[3]], "MS").missing == 2


# -- storage written before the log ----------------------------------------------------------------------


def test_storage_in_the_layout_before_the_log_is_imported(raw, store):
    keys = _keys(raw, 6)
    spec = raw.spec
    parts = {key: periods.partition_window(key, spec.partition_frequency) for key in keys}
    for name, frame in (("sales", raw.target), ("features", raw.related["features"])):
        for key, (start, end) in parts.items():
            rows = frame[(frame["Date"] >= start) & (frame["Date"] < end)]
            store.put_bytes(f"raw/{name}/{key}.parquet", to_parquet(rows))
    features = raw.related["features"]
    store.put_bytes("raw/features_ahead.parquet", to_parquet(features[features["Date"] >= parts[keys[-1]][1]]))
    store.put_bytes("raw/metadata/stores.parquet", to_parquet(raw.metadata["stores"]))

    back = read_stored(store, spec)  # the first read imports it as the first log entry
    assert store.list_keys(f"{LOG_PREFIX}/") == [f"{LOG_PREFIX}/0000000000.json"]
    assert stored_partitions(store, spec) == keys
    assert len(back.target) == int(raw.target["Date"].isin(pd.to_datetime(keys)).sum())
    assert back.related["features"]["Date"].max() == features["Date"].max()
    assert read_ahead(store, spec, "features")["Date"].min() == parts[keys[-1]][1]
    # The next load commits over it.
    write_partitions(store, raw, _keys(raw)[6:8])
    assert stored_partitions(store, spec) == _keys(raw, 8)
