"""Tests of reading and validating the Kaggle Walmart flat files (``deepar_assets.domain.kaggle``).

Every bad input must raise :class:`DataValidationError` whose message names the file and what is
wrong (column, line, found value, expected value); legal oddities of the real files are accepted.
Data comes from the seeded synthetic generator, edited per test; the real files are not used.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepar_assets.domain.kaggle import (
    FEATURES_COLUMNS,
    MARKDOWNS,
    SALES_COLUMNS,
    STORES_COLUMNS,
    RawData,
    find_file,
    read_kaggle,
)
from deepar_assets.domain.synthetic import SyntheticSpec, generate_frames
from deepar_assets.errors import DataValidationError

SPEC = SyntheticSpec(n_stores=3, n_depts=5, n_weeks=60, n_future_weeks=13, seed=3)
FILE_NAMES = {"train": "train", "features": "features", "stores": "stores"}
BOM = b"\xef\xbb\xbf"


# --- helpers --------------------------------------------------------------------------------


@functools.cache
def _generated() -> dict[str, pd.DataFrame]:
    return generate_frames(SPEC)


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """Fresh, editable copies of the synthetic frames (Date as YYYY-MM-DD strings)."""
    return {key: frame.copy() for key, frame in _generated().items()}


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as the Kaggle files write it: NA for missing, TRUE/FALSE, '\\n' lines."""
    out = frame.copy()
    if "IsHoliday" in out and out["IsHoliday"].dtype == bool:
        out["IsHoliday"] = np.where(out["IsHoliday"].to_numpy(), "TRUE", "FALSE")
    return out.to_csv(index=False, na_rep="NA", lineterminator="\n").encode("utf-8")


def write(folder: Path, frames: dict[str, pd.DataFrame], compress: bool = False) -> dict[str, Path]:
    """Write the three frames into folder; return key → path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, frame in frames.items():
        data = csv_bytes(frame)
        path = folder / f"{FILE_NAMES[key]}.csv{'.gz' if compress else ''}"
        path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
        paths[key] = path
    return paths


def raises(folder: Path, *parts: str) -> str:
    """read_kaggle(folder) must raise DataValidationError naming every part; return the message."""
    with pytest.raises(DataValidationError) as info:
        read_kaggle(folder)
    message = str(info.value)
    for part in parts:
        assert part in message, f"{part!r} not in error message {message!r}"
    return message


def line_of(row: int) -> str:
    """The 1-based file line of a 0-based data row (line 1 is the header)."""
    return f"line {row + 2}"


# --- bad inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "old", "new"),
    [
        ("train", "Weekly_Sales", "Weekly Sales"),  # misspelt
        ("train", "Dept", None),  # missing
        ("features", "Temperature", "Temp"),
        ("features", "IsHoliday", None),
        ("stores", "Type", "type"),
    ],
)
def test_missing_or_misspelt_column(tmp_path, frames, key, old, new):
    frame = frames[key]
    frames[key] = frame.drop(columns=[old]) if new is None else frame.rename(columns={old: new})
    paths = write(tmp_path, frames)
    message = raises(tmp_path, str(paths[key]), f"missing column(s) {old}", "expected the columns")
    # It says what it found, so a misspelling is visible.
    assert "found " + ", ".join(frames[key].columns) in message


def test_text_in_weekly_sales(tmp_path, frames):
    sales = frames["train"].astype({"Weekly_Sales": object})
    sales.loc[7, "Weekly_Sales"] = "$1234.50"
    frames["train"] = sales
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["train"]), line_of(7), "column Weekly_Sales", "found '$1234.50'", "expected a number")


def test_text_in_store_of_features(tmp_path, frames):
    features = frames["features"].astype({"Store": object})
    features.loc[11, "Store"] = "1.5"
    frames["features"] = features
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["features"]), line_of(11), "column Store", "found '1.5'", "expected an integer")


@pytest.mark.parametrize("value", ["05/02/2010", "2010-13-05", "Friday", "2010-02-05T00:00"])
def test_unparsable_date(tmp_path, frames, value):
    frames["train"].loc[4, "Date"] = value
    paths = write(tmp_path, frames)
    raises(
        tmp_path, str(paths["train"]), line_of(4), "column Date", f"found {value!r}", "expected a date as YYYY-MM-DD"
    )


def test_date_not_a_friday(tmp_path, frames):
    friday = pd.Timestamp(frames["features"].loc[20, "Date"])
    thursday = (friday - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    frames["features"].loc[20, "Date"] = thursday
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["features"]), line_of(20), "column Date", f"found {thursday!r}", "expected a Friday")


def test_several_bad_rows_report_the_first_and_the_count(tmp_path, frames):
    sales = frames["train"].astype({"Weekly_Sales": object})
    sales.loc[[9, 3, 30], "Weekly_Sales"] = "oops"
    frames["train"] = sales
    write(tmp_path, frames)
    raises(tmp_path, line_of(3), "(3 such rows)")


def test_duplicate_store_dept_date(tmp_path, frames):
    sales = frames["train"]
    row = sales.iloc[[5]]
    # The copy goes right after the original: it is data row 6, line 8.
    frames["train"] = pd.concat([sales.iloc[:6], row, sales.iloc[6:]], ignore_index=True)
    paths = write(tmp_path, frames)
    store, dept, date = row[["Store", "Dept", "Date"]].iloc[0]
    raises(
        tmp_path,
        str(paths["train"]),
        line_of(6),
        "duplicate (Store, Dept, Date)",
        f"({store}, {dept}, {date})",
        "expected one row per store, department and week",
    )


def test_duplicate_store_week_in_features(tmp_path, frames):
    features = frames["features"]
    frames["features"] = pd.concat([features, features.iloc[[2]]], ignore_index=True)
    paths = write(tmp_path, frames)
    store, date = features.loc[2, ["Store", "Date"]]
    raises(tmp_path, str(paths["features"]), line_of(len(features)), f"({store}, {date})", "one features row per store")


def test_sales_without_features_for_that_week(tmp_path, frames):
    sales, features = frames["train"], frames["features"]
    store, date = sales.loc[sales["Store"] == 2, ["Store", "Date"]].iloc[10]
    frames["features"] = features[~((features["Store"] == store) & (features["Date"] == date))]
    paths = write(tmp_path, frames)
    raises(
        tmp_path,
        str(paths["train"]),
        str(paths["features"]),
        f"store {store} has sales in the week {date}",
        "no row for that store and week",
    )


def test_store_missing_from_stores_file(tmp_path, frames):
    frames["stores"] = frames["stores"][frames["stores"]["Store"] != 3]
    paths = write(tmp_path, frames)
    message = raises(tmp_path, str(paths["train"]), "[3]", f"missing from {paths['stores']}", "Type and Size")
    assert message.startswith(str(paths["train"]))


def test_unknown_store_type(tmp_path, frames):
    frames["stores"].loc[1, "Type"] = "D"
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["stores"]), line_of(1), "column Type", "found 'D'", "expected one of A, B, C")


def test_duplicate_store_in_stores_file(tmp_path, frames):
    stores = frames["stores"]
    frames["stores"] = pd.concat([stores, stores.iloc[[0]]], ignore_index=True)
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["stores"]), line_of(len(stores)), "column Store", "each store once")


@pytest.mark.parametrize("key", ["train", "features", "stores"])
def test_empty_file(tmp_path, frames, key):
    paths = write(tmp_path, frames)
    paths[key].write_bytes(b"")
    columns = {"train": SALES_COLUMNS, "features": FEATURES_COLUMNS, "stores": STORES_COLUMNS}[key]
    raises(tmp_path, str(paths[key]), "empty", "expected a header line " + ",".join(columns))


def test_empty_gzip_file(tmp_path, frames):
    paths = write(tmp_path, frames, compress=True)
    paths["stores"].write_bytes(gzip.compress(b""))
    raises(tmp_path, str(paths["stores"]), "empty")


@pytest.mark.parametrize("key", ["train", "features", "stores"])
def test_header_only_file(tmp_path, frames, key):
    frames[key] = frames[key].iloc[:0]
    paths = write(tmp_path, frames)
    assert paths[key].read_bytes().count(b"\n") == 1
    raises(tmp_path, str(paths[key]), "header but no data rows")


@pytest.mark.parametrize("fraction", [0.5, 0.99])
def test_truncated_gzip(tmp_path, frames, fraction):
    paths = write(tmp_path, frames, compress=True)
    data = paths["train"].read_bytes()
    paths["train"].write_bytes(data[: int(len(data) * fraction)])
    raises(tmp_path, str(paths["train"]), "gzip", "truncated")


def test_plain_text_named_gz(tmp_path, frames):
    paths = write(tmp_path, frames, compress=True)
    paths["features"].write_bytes(csv_bytes(frames["features"]))
    raises(tmp_path, str(paths["features"]), "cannot be read as gzip CSV")


def test_file_of_another_dataset(tmp_path, frames):
    paths = write(tmp_path, frames)
    paths["train"].write_text('id,text,label\n1,"great product, would buy",pos\n2,meh,neg\n')
    raises(
        tmp_path,
        str(paths["train"]),
        "missing column(s) Store, Dept, Date, Weekly_Sales, IsHoliday",
        "found id, text, label",
    )


def test_ragged_rows(tmp_path, frames):
    paths = write(tmp_path, frames)
    with paths["stores"].open("a") as handle:
        handle.write("9,A,100,extra\n")
    raises(tmp_path, str(paths["stores"]), "not a readable CSV file")


def test_not_utf8(tmp_path, frames):
    paths = write(tmp_path, frames)
    paths["stores"].write_bytes("Store,Type,Size\n1,A,5\n".encode("utf-16"))
    raises(tmp_path, str(paths["stores"]), "not a readable CSV file")


@pytest.mark.parametrize("key", ["train", "features", "stores"])
def test_both_plain_and_gzipped_present(tmp_path, frames, key):
    paths = write(tmp_path, frames)
    name = FILE_NAMES[key]
    (tmp_path / f"{name}.csv.gz").write_bytes(gzip.compress(paths[key].read_bytes()))
    raises(tmp_path, str(tmp_path), f"both {name}.csv and {name}.csv.gz exist")


def test_missing_folder(tmp_path):
    folder = tmp_path / "no_such_folder"
    raises(folder, str(folder), "does not exist")


def test_folder_is_a_file(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("x")
    raises(path, str(path), "not a folder")


@pytest.mark.parametrize("key", ["train", "features", "stores"])
def test_missing_file(tmp_path, frames, key):
    paths = write(tmp_path, frames)
    paths[key].unlink()
    name = FILE_NAMES[key]
    raises(tmp_path, str(tmp_path), f"expected {name}.csv or {name}.csv.gz", "found neither")


@pytest.mark.parametrize(
    ("key", "column", "row"),
    [
        ("features", "Temperature", 4),
        ("features", "Fuel_Price", 17),
        ("train", "Weekly_Sales", 12),
        ("train", "Dept", 2),
        ("stores", "Size", 2),
    ],
)
def test_na_in_a_non_nullable_column(tmp_path, frames, key, column, row):
    frame = frames[key].astype({column: object})
    frame.loc[row, column] = np.nan
    frames[key] = frame
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths[key]), line_of(row), f"column {column}", "found 'NA'", "NA is only allowed")


@pytest.mark.parametrize("value", ["yes", "1", "NA"])
def test_bad_holiday_flag(tmp_path, frames, value):
    frames["train"]["IsHoliday"] = np.where(frames["train"]["IsHoliday"], "TRUE", "FALSE")
    frames["train"].loc[8, "IsHoliday"] = value
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["train"]), line_of(8), "column IsHoliday", f"found {value!r}", "TRUE or FALSE")


# --- legal inputs ---------------------------------------------------------------------------


def _parsed(frame: pd.DataFrame) -> pd.DataFrame:
    """The generated frame with Date parsed, as read_kaggle should return it."""
    out = frame.reset_index(drop=True).copy()
    if "Date" in out:
        out["Date"] = pd.to_datetime(out["Date"], format="%Y-%m-%d")
    return out


def test_reads_the_generated_data_exactly(tmp_path, frames):
    write(tmp_path, frames)
    raw = read_kaggle(tmp_path)
    assert isinstance(raw, RawData)
    assert raw.source == str(tmp_path)
    pd.testing.assert_frame_equal(raw.sales, _parsed(frames["train"]))
    pd.testing.assert_frame_equal(raw.features, _parsed(frames["features"]))
    pd.testing.assert_frame_equal(raw.stores, frames["stores"], check_dtype=False)


def test_types_of_the_frames(tmp_path, frames):
    write(tmp_path, frames)
    raw = read_kaggle(tmp_path)
    assert list(raw.sales.columns) == list(SALES_COLUMNS)
    assert list(raw.features.columns) == list(FEATURES_COLUMNS)
    assert list(raw.stores.columns) == list(STORES_COLUMNS)
    for frame in (raw.sales, raw.features):
        assert frame["Store"].dtype == np.int64
        assert pd.api.types.is_datetime64_dtype(frame["Date"])
        assert (frame["Date"].dt.dayofweek == 4).all()
        assert frame["IsHoliday"].dtype == bool
    assert raw.sales["Dept"].dtype == np.int64
    assert raw.sales["Weekly_Sales"].dtype == np.float64
    for column in FEATURES_COLUMNS[2:-1]:
        assert raw.features[column].dtype == np.float64, column
    assert raw.stores["Store"].dtype == np.int64
    assert raw.stores["Size"].dtype == np.int64
    assert pd.api.types.is_string_dtype(raw.stores["Type"])
    assert set(raw.stores["Type"]) <= {"A", "B", "C"}
    assert raw.sales["IsHoliday"].any() and not raw.sales["IsHoliday"].all()


def test_negative_sales_are_accepted_and_counted(tmp_path, frames):
    frames["train"].loc[[3, 40], "Weekly_Sales"] = [-12.5, -0.01]
    write(tmp_path, frames)
    raw = read_kaggle(tmp_path)
    assert raw.sales.loc[3, "Weekly_Sales"] == -12.5
    assert raw.sales.loc[40, "Weekly_Sales"] == -0.01
    expected = int((frames["train"]["Weekly_Sales"] < 0).sum())
    assert expected >= 2
    assert raw.oddities["negative_sales_rows"] == expected


def test_na_markdowns_cpi_and_unemployment_are_accepted(tmp_path, frames):
    features = frames["features"]
    # The spec lies before 2011-11-11: every markdown is NA; CPI/Unemployment NA at the end.
    assert features[list(MARKDOWNS)].isna().all().all()
    write(tmp_path, frames)
    raw = read_kaggle(tmp_path)
    assert raw.features[list(MARKDOWNS)].isna().all().all()
    assert raw.oddities["markdown_na_values"] == len(features) * len(MARKDOWNS)
    na_cpi = int(features[["CPI", "Unemployment"]].isna().sum().sum())
    assert na_cpi == 2 * SPEC.n_stores * min(13, SPEC.n_future_weeks)
    assert raw.oddities["cpi_unemployment_na_values"] == na_cpi
    np.testing.assert_array_equal(raw.features["CPI"].isna(), features["CPI"].isna())


@pytest.mark.parametrize("token", ["", "NaN", "nan", "N/A"])
def test_other_na_spellings_in_markdowns(tmp_path, frames, token):
    features = frames["features"].astype({"MarkDown2": object})
    features["MarkDown2"] = "1.5"
    features.loc[5, "MarkDown2"] = token
    frames["features"] = features
    write(tmp_path, frames)
    raw = read_kaggle(tmp_path)
    assert np.isnan(raw.features.loc[5, "MarkDown2"])
    assert raw.features["MarkDown2"].notna().sum() == len(features) - 1


@pytest.mark.parametrize("key", ["train", "features", "stores"])
def test_extra_columns_warn_and_are_ignored(tmp_path, frames, key):
    frames[key] = frames[key].assign(Comment="hello", Region=1)
    paths = write(tmp_path, frames)
    with pytest.warns(UserWarning, match="Comment, Region") as record:
        raw = read_kaggle(tmp_path)
    assert any(str(paths[key]) in str(w.message) for w in record)
    for frame in (raw.sales, raw.features, raw.stores):
        assert "Comment" not in frame.columns and "Region" not in frame.columns


def test_bare_cr_line_endings_in_stores(tmp_path, frames):
    """The real stores.csv uses '\\r' only, without a final line ending."""
    paths = write(tmp_path, frames)
    stores = frames["stores"]
    lines = ["Store,Type,Size"] + [f"{r.Store},{r.Type},{r.Size}" for r in stores.itertuples()]
    paths["stores"].write_bytes("\r".join(lines).encode())
    assert b"\n" not in paths["stores"].read_bytes()
    raw = read_kaggle(tmp_path)
    pd.testing.assert_frame_equal(raw.stores, stores, check_dtype=False)


def test_bare_cr_errors_still_name_the_line(tmp_path, frames):
    paths = write(tmp_path, frames)
    paths["stores"].write_bytes(b"Store,Type,Size\r1,A,151315\r2,B,202307\r3,E,37392")
    raises(tmp_path, str(paths["stores"]), "line 4", "found 'E'")


@pytest.mark.parametrize("key", ["train", "features", "stores"])
def test_utf8_byte_order_mark(tmp_path, frames, key):
    paths = write(tmp_path, frames)
    paths[key].write_bytes(BOM + paths[key].read_bytes())
    raw = read_kaggle(tmp_path)
    pd.testing.assert_frame_equal(raw.sales, _parsed(frames["train"]))
    pd.testing.assert_frame_equal(raw.features, _parsed(frames["features"]))
    assert list(raw.stores["Store"]) == list(frames["stores"]["Store"])


def test_crlf_line_endings(tmp_path, frames):
    paths = write(tmp_path, frames)
    paths["train"].write_bytes(paths["train"].read_bytes().replace(b"\n", b"\r\n"))
    raw = read_kaggle(tmp_path)
    pd.testing.assert_frame_equal(raw.sales, _parsed(frames["train"]))


def test_gzipped_files_read_like_plain_ones(tmp_path, frames):
    write(tmp_path / "plain", frames)
    write(tmp_path / "gz", frames, compress=True)
    assert {p.name for p in (tmp_path / "gz").iterdir()} == {"train.csv.gz", "features.csv.gz", "stores.csv.gz"}
    plain, gz = read_kaggle(tmp_path / "plain"), read_kaggle(tmp_path / "gz")
    pd.testing.assert_frame_equal(plain.sales, gz.sales)
    pd.testing.assert_frame_equal(plain.features, gz.features)
    pd.testing.assert_frame_equal(plain.stores, gz.stores)
    assert plain.oddities == gz.oddities


def test_mixed_plain_and_gzipped(tmp_path, frames):
    paths = write(tmp_path, frames)
    gz = paths["features"].with_name("features.csv.gz")
    gz.write_bytes(gzip.compress(paths["features"].read_bytes()))
    paths["features"].unlink()
    assert find_file(tmp_path, "features") == gz
    assert find_file(tmp_path, "train") == paths["train"]
    raw = read_kaggle(tmp_path)
    pd.testing.assert_frame_equal(raw.features, _parsed(frames["features"]))


def test_whitespace_around_values_and_names(tmp_path, frames):
    paths = write(tmp_path, frames)
    paths["stores"].write_bytes(b" Store , Type ,Size\n1, A ,151315\n2,B , 202307\n3,C,37392\n")
    frames_stores = read_kaggle(tmp_path).stores
    assert list(frames_stores["Type"]) == ["A", "B", "C"]
    assert list(frames_stores["Size"]) == [151315, 202307, 37392]


def test_features_without_sales_are_fine(tmp_path, frames):
    """features.csv has weeks after the last sales week (the known future) and may list a
    store with no sales at all."""
    frames["train"] = frames["train"][frames["train"]["Store"] != 3]
    write(tmp_path, frames)
    raw = read_kaggle(tmp_path)
    assert raw.features["Date"].max() > raw.sales["Date"].max()
    assert 3 not in set(raw.sales["Store"]) and 3 in set(raw.features["Store"])
