"""Tests of reading and validating a dataset's files as its spec declares (``deepar_assets.domain.reading``).

Every bad input must raise :class:`DataValidationError` whose message names the file and what is
wrong (column, line, found value, expected value); legal oddities of the real files are accepted.
Most data comes from the seeded synthetic generator (the Walmart layout, read with the
``synthetic`` spec), edited per test; small hand-made tables cover other shapes (string ids,
daily and monthly data, Parquet, globs). The real files are read only when they are present.
"""

from __future__ import annotations

import copy
import functools
import gzip
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading import find_table_files, read_dataset, read_table
from deepar_assets.domain.spec import DatasetSpec, load_spec
from deepar_assets.domain.synthetic import MARKDOWNS, SyntheticSpec, generate_frames
from deepar_assets.errors import DataValidationError

SYNTHETIC = load_spec("synthetic")
GEN = SyntheticSpec(n_stores=3, n_depts=5, n_weeks=60, n_future_weeks=13, seed=3)
FILE_NAMES = {"train": "train", "features": "features", "stores": "stores"}
BOM = b"\xef\xbb\xbf"
REAL = Path(__file__).resolve().parents[3] / "shared" / "data"


# --- helpers --------------------------------------------------------------------------------


@functools.cache
def _generated() -> dict[str, pd.DataFrame]:
    return generate_frames(GEN)


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
    """Write the frames into folder; return key → path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, frame in frames.items():
        data = csv_bytes(frame)
        path = folder / f"{FILE_NAMES.get(key, key)}.csv{'.gz' if compress else ''}"
        path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
        paths[key] = path
    return paths


def read(folder: Path, spec: DatasetSpec = SYNTHETIC) -> RawData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stores.csv's Size is not in the synthetic spec
        return read_dataset(spec, folder)


def raises(folder: Path, *parts: str, spec: DatasetSpec = SYNTHETIC) -> str:
    """read_dataset(spec, folder) must raise DataValidationError naming every part; return the message."""
    with pytest.raises(DataValidationError) as info:
        read(folder, spec)
    message = str(info.value)
    for part in parts:
        assert part in message, f"{part!r} not in error message {message!r}"
    return message


def line_of(row: int) -> str:
    """The 1-based file line of a 0-based data row (line 1 is the header)."""
    return f"line {row + 2}"


def variant(spec: DatasetSpec = SYNTHETIC, **changes) -> DatasetSpec:
    """The spec with some fields replaced (``target__file="x"`` sets target.file)."""
    data = copy.deepcopy(spec.model_dump(mode="json", exclude_defaults=True))
    for name, value in changes.items():
        node = data
        *path, last = name.split("__")
        for part in path:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return DatasetSpec.model_validate(data)


def simple_spec(frequency: str, ids: list[str], id_types: dict | None = None, **target) -> DatasetSpec:
    """A spec with one target table ``sales`` (file ``data``): ids, ``date``, ``y``."""
    return DatasetSpec.model_validate(
        {
            "name": "simple",
            "frequency": frequency,
            "start": target.pop("start", "2020-01-06"),
            "target": {
                "name": "sales",
                "file": target.pop("file", "data"),
                "ids": ids,
                "id_types": id_types or {},
                "time": {"column": "date", "format": target.pop("format", "%Y-%m-%d")},
                "target": "y",
                **target,
            },
        }
    )


def write_simple(folder: Path, rows: list[dict], name: str = "data.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pd.DataFrame(rows).to_csv(path, index=False, lineterminator="\n")
    return path


# --- columns --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "old", "new", "field"),
    [
        ("train", "Weekly_Sales", "Weekly Sales", "target.target"),  # misspelt
        ("train", "Dept", None, "target.ids"),  # missing
        ("train", "Date", "date", "target.time.column"),
        ("features", "Temperature", "Temp", "related[0] (features).covariates"),
        ("features", "IsHoliday", None, "related[0] (features).covariates"),
        ("features", "Store", None, "related[0] (features).keys"),
        ("stores", "Type", "type", "metadata[0] (stores).attributes.Type"),
    ],
)
def test_missing_or_misspelt_column_names_the_spec_field(tmp_path, frames, key, old, new, field):
    frame = frames[key]
    frames[key] = frame.drop(columns=[old]) if new is None else frame.rename(columns={old: new})
    paths = write(tmp_path, frames)
    message = raises(tmp_path, f"{field}: column {old!r} is not in {paths[key]}")
    # It says what it found, so a misspelling is visible.
    assert "its columns: " + ", ".join(frames[key].columns) in message


def test_file_of_another_dataset(tmp_path, frames):
    paths = write(tmp_path, frames)
    paths["train"].write_text('id,text,label\n1,"great product, would buy",pos\n2,meh,neg\n')
    message = raises(tmp_path, str(paths["train"]), "its columns: id, text, label")
    for column in ("Store", "Dept", "Date", "Weekly_Sales"):
        assert f"column {column!r} is not in" in message


def test_duplicated_column_in_the_header(tmp_path, frames):
    paths = write(tmp_path, frames)
    text = paths["stores"].read_text().splitlines()
    paths["stores"].write_text("\n".join([text[0] + ",Type"] + [line + ",A" for line in text[1:]]) + "\n")
    raises(tmp_path, str(paths["stores"]), "line 1", "'Type' appears twice in the header")


@pytest.mark.parametrize("key", ["train", "features", "stores"])
def test_extra_columns_warn_and_are_ignored(tmp_path, frames, key):
    frames[key] = frames[key].assign(Comment="hello", Region=1)
    paths = write(tmp_path, frames)
    with pytest.warns(UserWarning, match="Comment, Region") as record:
        raw = read_dataset(SYNTHETIC, tmp_path)
    assert any(str(paths[key]) in str(w.message) for w in record)
    for frame in (raw.target, *raw.related.values(), *raw.metadata.values()):
        assert "Comment" not in frame.columns and "Region" not in frame.columns


def test_ignored_columns_do_not_warn(tmp_path, frames):
    write(tmp_path, frames)
    spec = variant(metadata__0__ignore=["Size"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # train's IsHoliday and stores' Size are both ignored
        raw = read_dataset(spec, tmp_path)
    assert "IsHoliday" not in raw.target.columns and "Size" not in raw.metadata["stores"].columns


# --- values ---------------------------------------------------------------------------------


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


@pytest.mark.parametrize("value", ["1.0", "1e3", "12345678901234567890", "-99999999999999999999", "1 2", "+5"])
def test_int_id_that_is_not_an_int64(tmp_path, frames, value):
    sales = frames["train"].astype({"Dept": object})
    sales.loc[13, "Dept"] = value
    frames["train"] = sales
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["train"]), line_of(13), "column Dept", f"found {value!r}", "expected an integer")


def test_largest_int64_id_is_read(tmp_path):
    big = 2**63 - 1
    write_simple(tmp_path, [{"id": big, "date": "2020-01-06", "y": 1.0}, {"id": big, "date": "2020-01-13", "y": 2.0}])
    raw = read_dataset(simple_spec("W-MON", ["id"], {"id": "int"}), tmp_path)
    assert raw.target["id"].tolist() == [big, big]


@pytest.mark.parametrize("value", ["inf", "-Infinity", "1e400", "-inf"])
def test_non_finite_target(tmp_path, frames, value):
    sales = frames["train"].astype({"Weekly_Sales": object})
    sales.loc[9, "Weekly_Sales"] = value
    frames["train"] = sales
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["train"]), line_of(9), "column Weekly_Sales", f"found {value!r}", "a finite number")


def test_non_finite_in_a_nullable_covariate(tmp_path, frames):
    features = frames["features"].astype({"MarkDown3": object})
    features.loc[6, "MarkDown3"] = "Infinity"
    frames["features"] = features
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["features"]), line_of(6), "column MarkDown3", "found 'Infinity'", "a finite number")


@pytest.mark.parametrize("value", ["05/02/2010", "2010-13-05", "Friday", "2010-02-05T00:00", "2010-2-5", "NA"])
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


def test_weekly_spec_on_weeks_ending_on_monday(tmp_path, frames):
    """W-FRI declared, the file's weeks are labelled by their Monday: the first row says so."""
    for key in ("train", "features"):
        dates = pd.to_datetime(frames[key]["Date"]) + pd.Timedelta(days=3)
        frames[key]["Date"] = dates.dt.strftime("%Y-%m-%d")
    paths = write(tmp_path, frames)
    first = frames["train"].loc[0, "Date"]
    raises(tmp_path, str(paths["train"]), line_of(0), f"found {first!r}", "expected a Friday", "W-FRI")


def test_several_bad_rows_report_the_first_and_the_count(tmp_path, frames):
    sales = frames["train"].astype({"Weekly_Sales": object})
    sales.loc[[9, 3, 30], "Weekly_Sales"] = "oops"
    frames["train"] = sales
    write(tmp_path, frames)
    raises(tmp_path, line_of(3), "(3 such rows)")


@pytest.mark.parametrize(
    ("key", "column", "row"),
    [
        ("features", "Temperature", 4),
        ("features", "Fuel_Price", 17),
        ("features", "IsHoliday", 8),
        ("features", "Store", 3),
        ("train", "Weekly_Sales", 12),
        ("train", "Dept", 2),
    ],
)
def test_na_in_a_non_nullable_column(tmp_path, frames, key, column, row):
    frame = frames[key].astype({column: object})
    frame.loc[row, column] = np.nan
    frames[key] = frame
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths[key]), line_of(row), f"column {column}", "found 'NA'", "NA is only allowed")


@pytest.mark.parametrize("value", ["yes", "2", "T", "TRUE!"])
def test_bad_holiday_flag(tmp_path, frames, value):
    frames["features"]["IsHoliday"] = np.where(frames["features"]["IsHoliday"], "TRUE", "FALSE")
    frames["features"].loc[8, "IsHoliday"] = value
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["features"]), line_of(8), "column IsHoliday", f"found {value!r}", "TRUE or FALSE")


def test_bool_spellings(tmp_path, frames):
    holiday = frames["features"]["IsHoliday"].to_numpy()
    spellings = np.array(["TRUE", "true", "True", "1", "FALSE", "false", "False", "0"], dtype=object)
    text = np.where(holiday, spellings[np.arange(len(holiday)) % 4], spellings[4 + np.arange(len(holiday)) % 4])
    frames["features"]["IsHoliday"] = text
    write(tmp_path, frames)
    raw = read(tmp_path)
    np.testing.assert_array_equal(raw.related["features"]["IsHoliday"].to_numpy(), holiday.astype(float))


def test_unknown_store_type(tmp_path, frames):
    frames["stores"].loc[1, "Type"] = "D"
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["stores"]), line_of(1), "column Type", "found 'D'", "expected one of A, B, C")


def test_int_categorical_values(tmp_path, frames):
    frames["stores"]["Tier"] = [1, 2, 3]
    write(tmp_path, frames)
    spec = variant(
        metadata__0__attributes={"Type": {"values": ["A", "B", "C"]}, "Tier": {"type": "int", "values": [1, 2]}}
    )
    raises(tmp_path, line_of(2), "column Tier", "found '3'", "expected one of 1, 2", spec=spec)
    frames["stores"]["Tier"] = [1, 2, 2]
    write(tmp_path, frames)
    assert read(tmp_path, spec).metadata["stores"]["Tier"].tolist() == [1, 2, 2]


# --- rows -----------------------------------------------------------------------------------


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
        f"already at {paths['train']}, {line_of(5)}",
        "expected one row per (Store, Dept, Date)",
    )


def test_duplicate_store_week_in_features(tmp_path, frames):
    features = frames["features"]
    frames["features"] = pd.concat([features, features.iloc[[2]]], ignore_index=True)
    paths = write(tmp_path, frames)
    store, date = features.loc[2, ["Store", "Date"]]
    raises(tmp_path, str(paths["features"]), line_of(len(features)), f"({store}, {date})", "one row per (Store, Date)")


def test_duplicate_store_in_stores_file(tmp_path, frames):
    stores = frames["stores"]
    frames["stores"] = pd.concat([stores, stores.iloc[[0]]], ignore_index=True)
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["stores"]), line_of(len(stores)), "duplicate (Store) = (1)", "each (Store) once")


def test_daily_spec_on_weekly_data(tmp_path):
    rows = [
        {"id": i, "date": d.strftime("%Y-%m-%d"), "y": 1.0}
        for i in (1, 2)
        for d in pd.date_range("2020-01-06", periods=5, freq="7D")
    ]
    path = write_simple(tmp_path, rows)
    spec = simple_spec("D", ["id"], {"id": "int"})
    raises(tmp_path, f"lines 2 and 3 of {path}", "(id 1)", "7 days apart", "looks coarser than D", spec=spec)


def test_monthly_spec_on_quarterly_data(tmp_path):
    rows = [
        {"s": "x", "date": d.strftime("%Y-%m-%d"), "y": 1.0} for d in pd.date_range("2020-01-01", periods=4, freq="QS")
    ]
    path = write_simple(tmp_path, rows)
    spec = simple_spec("MS", ["s"], start="2020-01-01")
    raises(tmp_path, f"lines 2 and 3 of {path}", "3 months apart", "coarser than MS", spec=spec)


def test_gaps_are_fine_when_some_series_steps_by_one_period(tmp_path):
    dates = ["2020-01-01", "2020-01-02", "2020-01-09", "2020-01-10"]
    rows = [{"s": "x", "date": d, "y": 1.0} for d in dates] + [{"s": "y", "date": "2020-01-05", "y": 2.0}]
    write_simple(tmp_path, rows)
    raw = read_dataset(simple_spec("D", ["s"], start="2020-01-01"), tmp_path)
    assert len(raw.target) == 5


def test_one_row_per_series_is_not_called_coarse(tmp_path):
    write_simple(tmp_path, [{"s": s, "date": "2020-01-06", "y": 1.0} for s in "abc"])
    assert len(read_dataset(simple_spec("D", ["s"]), tmp_path).target) == 3


# --- across tables --------------------------------------------------------------------------


def test_sales_without_features_for_that_week(tmp_path, frames):
    sales, features = frames["train"], frames["features"]
    store, date = sales.loc[sales["Store"] == 2, ["Store", "Date"]].iloc[10]
    frames["features"] = features[~((features["Store"] == store) & (features["Date"] == date))]
    paths = write(tmp_path, frames)
    raises(
        tmp_path,
        str(paths["train"]),
        str(paths["features"]),
        f"Store {store} has sales rows in the period {date}",
        "has no row for that Store and period",
    )


def test_store_missing_from_stores_file(tmp_path, frames):
    frames["stores"] = frames["stores"][frames["stores"]["Store"] != 3]
    paths = write(tmp_path, frames)
    message = raises(tmp_path, "Store 3 is missing from " + str(paths["stores"]), "attributes (Type)")
    assert message.startswith(str(paths["train"]))


def test_store_of_the_target_missing_from_features(tmp_path, frames):
    frames["features"] = frames["features"][frames["features"]["Store"] != 2]
    paths = write(tmp_path, frames)
    raises(tmp_path, str(paths["train"]), "Store 2 has sales rows but", str(paths["features"]), "has no row for it")


def test_features_for_a_store_without_sales(tmp_path, frames):
    """A key present in a related table but not in the target."""
    frames["train"] = frames["train"][frames["train"]["Store"] != 3]
    frames["stores"] = frames["stores"][frames["stores"]["Store"] != 3]
    paths = write(tmp_path, frames)
    first = int(np.flatnonzero(frames["features"]["Store"].to_numpy() == 3)[0])
    raises(
        tmp_path, f"{paths['features']}, {line_of(first)}", "Store 3 is in features", "no series of the target table"
    )


def test_stores_file_describes_a_store_without_sales(tmp_path, frames):
    frames["stores"] = pd.concat(
        [frames["stores"], pd.DataFrame({"Store": [9], "Type": ["A"], "Size": [1]})], ignore_index=True
    )
    paths = write(tmp_path, frames)
    raises(tmp_path, f"{paths['stores']}, {line_of(3)}", "Store 9 is in stores", "no series of the target table")


def test_features_beyond_the_last_sales_week_are_fine(tmp_path, frames):
    """features.csv has weeks after the last sales week: the covariates known ahead."""
    write(tmp_path, frames)
    raw = read(tmp_path)
    assert raw.related["features"]["Date"].max() > raw.target["Date"].max()


def test_global_related_table(tmp_path):
    rows = [
        {"s": s, "date": d.strftime("%Y-%m-%d"), "y": 1.0} for s in "ab" for d in pd.date_range("2020-01-06", periods=4)
    ]
    write_simple(tmp_path, rows)
    oil = pd.DataFrame({"day": pd.date_range("2020-01-06", periods=6).strftime("%Y-%m-%d"), "oil": np.arange(6.0)})
    data = simple_spec("D", ["s"]).model_dump(mode="json")
    data["related"] = [{"name": "oil", "file": "oil.csv", "keys": [], "time": {"column": "day"}, "covariates": ["oil"]}]
    spec = DatasetSpec.model_validate(data)
    oil.to_csv(tmp_path / "oil.csv", index=False)
    raw = read_dataset(spec, tmp_path)
    assert raw.related["oil"]["oil"].tolist() == list(np.arange(6.0))
    oil.drop(index=2).to_csv(tmp_path / "oil.csv", index=False)
    raises(tmp_path, "the period 2020-01-08 has sales rows", "oil.csv has no row for it", spec=spec)


# --- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["train", "features", "stores"])
def test_empty_file(tmp_path, frames, key):
    paths = write(tmp_path, frames)
    paths[key].write_bytes(b"")
    header = {
        "train": "Store,Dept,Date,Weekly_Sales",
        "features": "Store,Date,IsHoliday,Temperature",
        "stores": "Store,Type",
    }
    raises(tmp_path, str(paths[key]), "empty", "expected a header line " + header[key])


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


@pytest.mark.parametrize(
    ("key", "field"),
    [("train", "target.file"), ("features", "related[0] (features).file"), ("stores", "metadata[0] (stores).file")],
)
def test_missing_file(tmp_path, frames, key, field):
    paths = write(tmp_path, frames)
    paths[key].unlink()
    name = FILE_NAMES[key]
    raises(tmp_path, str(tmp_path), f"expected {name}.csv, {name}.csv.gz or {name}.parquet", field, "found none")


def test_find_table_files(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "parts").mkdir()
    for name in ("2019.csv", "2020.csv.gz", "2021.parquet", "notes.txt"):
        (tmp_path / "parts" / name).write_text("x\n")
    assert find_table_files(tmp_path, "a") == [tmp_path / "a.csv"]
    assert find_table_files(tmp_path, "a.csv") == [tmp_path / "a.csv"]
    assert [p.name for p in find_table_files(tmp_path, "parts/*")] == ["2019.csv", "2020.csv.gz", "2021.parquet"]
    with pytest.raises(DataValidationError, match=r"target.file: 'parts/\*.tsv' matches no"):
        find_table_files(tmp_path, "parts/*.tsv", "target.file")
    with pytest.raises(DataValidationError, match="b.csv does not exist"):
        find_table_files(tmp_path, "b.csv")


# --- legal inputs ---------------------------------------------------------------------------


def _expected(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The generated frames as read_dataset with the synthetic spec returns them."""
    train = frames["train"].drop(columns=["IsHoliday"]).reset_index(drop=True)
    train["Date"] = pd.to_datetime(train["Date"], format="%Y-%m-%d")
    features = frames["features"].reset_index(drop=True)
    features = features[["Store", "Date", *SYNTHETIC.related[0].covariates]].copy()
    features["Date"] = pd.to_datetime(features["Date"], format="%Y-%m-%d")
    features["IsHoliday"] = features["IsHoliday"].astype(np.float64)
    stores = frames["stores"][["Store", "Type"]].reset_index(drop=True)
    return {"train": train, "features": features, "stores": stores}


def test_reads_the_generated_data_exactly(tmp_path, frames):
    write(tmp_path, frames)
    raw = read(tmp_path)
    assert isinstance(raw, RawData) and raw.spec is SYNTHETIC
    assert raw.source == str(tmp_path)
    expected = _expected(frames)
    pd.testing.assert_frame_equal(raw.target, expected["train"])
    pd.testing.assert_frame_equal(raw.related["features"], expected["features"])
    pd.testing.assert_frame_equal(raw.metadata["stores"], expected["stores"])


def test_types_of_the_frames(tmp_path, frames):
    write(tmp_path, frames)
    raw = read(tmp_path)
    assert list(raw.target.columns) == ["Store", "Dept", "Date", "Weekly_Sales"]
    features = raw.related["features"]
    assert list(features.columns) == ["Store", "Date", *SYNTHETIC.related[0].covariates]
    assert list(raw.metadata["stores"].columns) == ["Store", "Type"]
    for frame in (raw.target, features):
        assert frame["Store"].dtype == np.int64
        assert frame["Date"].dtype == "datetime64[ns]"
        assert (frame["Date"].dt.dayofweek == 4).all()
    assert raw.target["Dept"].dtype == np.int64
    assert raw.target["Weekly_Sales"].dtype == np.float64
    for column in SYNTHETIC.related[0].covariates:
        assert features[column].dtype == np.float64, column
    assert set(features["IsHoliday"]) == {0.0, 1.0}
    assert raw.metadata["stores"]["Store"].dtype == np.int64
    assert set(raw.metadata["stores"]["Type"]) <= {"A", "B", "C"}
    assert all(isinstance(v, str) for v in raw.metadata["stores"]["Type"])


def test_negative_sales_are_accepted_and_counted(tmp_path, frames):
    frames["train"].loc[[3, 40], "Weekly_Sales"] = [-12.5, -0.01]
    write(tmp_path, frames)
    raw = read(tmp_path)
    assert raw.target.loc[3, "Weekly_Sales"] == -12.5
    assert raw.target.loc[40, "Weekly_Sales"] == -0.01
    expected = int((frames["train"]["Weekly_Sales"] < 0).sum())
    assert expected >= 2
    assert raw.oddities["negative_target_rows"] == expected


def test_na_markdowns_cpi_and_unemployment_are_accepted_and_counted(tmp_path, frames):
    features = frames["features"]
    # The generated weeks lie before 2011-11-11: every markdown is NA; CPI/Unemployment NA at the end.
    assert features[list(MARKDOWNS)].isna().all().all()
    write(tmp_path, frames)
    raw = read(tmp_path)
    read_features = raw.related["features"]
    assert read_features[list(MARKDOWNS)].isna().all().all()
    for column in MARKDOWNS:
        assert raw.oddities[f"{column}_na_values"] == len(features)
    na_cpi = int(features["CPI"].isna().sum())
    assert na_cpi == GEN.n_stores * min(13, GEN.n_future_weeks)
    assert raw.oddities["CPI_na_values"] == raw.oddities["Unemployment_na_values"] == na_cpi
    assert "Temperature_na_values" not in raw.oddities  # not nullable
    np.testing.assert_array_equal(read_features["CPI"].isna(), features["CPI"].isna())


@pytest.mark.parametrize("token", ["", "NaN", "nan", "N/A"])
def test_other_na_spellings_in_markdowns(tmp_path, frames, token):
    features = frames["features"].astype({"MarkDown2": object})
    features["MarkDown2"] = "1.5"
    features.loc[5, "MarkDown2"] = token
    frames["features"] = features
    write(tmp_path, frames)
    raw = read(tmp_path)
    assert np.isnan(raw.related["features"].loc[5, "MarkDown2"])
    assert raw.related["features"]["MarkDown2"].notna().sum() == len(features) - 1


def test_bare_cr_line_endings_in_stores(tmp_path, frames):
    """The real stores.csv uses '\\r' only, without a final line ending."""
    paths = write(tmp_path, frames)
    stores = frames["stores"]
    lines = ["Store,Type,Size"] + [f"{r.Store},{r.Type},{r.Size}" for r in stores.itertuples()]
    paths["stores"].write_bytes("\r".join(lines).encode())
    assert b"\n" not in paths["stores"].read_bytes()
    raw = read(tmp_path)
    pd.testing.assert_frame_equal(raw.metadata["stores"], stores[["Store", "Type"]])


def test_bare_cr_errors_still_name_the_line(tmp_path, frames):
    paths = write(tmp_path, frames)
    paths["stores"].write_bytes(b"Store,Type,Size\r1,A,151315\r2,B,202307\r3,E,37392")
    raises(tmp_path, str(paths["stores"]), "line 4", "found 'E'")


@pytest.mark.parametrize("key", ["train", "features", "stores"])
def test_utf8_byte_order_mark(tmp_path, frames, key):
    paths = write(tmp_path, frames)
    paths[key].write_bytes(BOM + paths[key].read_bytes())
    raw = read(tmp_path)
    expected = _expected(frames)
    pd.testing.assert_frame_equal(raw.target, expected["train"])
    pd.testing.assert_frame_equal(raw.related["features"], expected["features"])
    assert list(raw.metadata["stores"]["Store"]) == list(frames["stores"]["Store"])


def test_crlf_line_endings(tmp_path, frames):
    paths = write(tmp_path, frames)
    paths["train"].write_bytes(paths["train"].read_bytes().replace(b"\n", b"\r\n"))
    pd.testing.assert_frame_equal(read(tmp_path).target, _expected(frames)["train"])


def test_gzipped_files_read_like_plain_ones(tmp_path, frames):
    write(tmp_path / "plain", frames)
    write(tmp_path / "gz", frames, compress=True)
    assert {p.name for p in (tmp_path / "gz").iterdir()} == {"train.csv.gz", "features.csv.gz", "stores.csv.gz"}
    plain, gz = read(tmp_path / "plain"), read(tmp_path / "gz")
    pd.testing.assert_frame_equal(plain.target, gz.target)
    pd.testing.assert_frame_equal(plain.related["features"], gz.related["features"])
    pd.testing.assert_frame_equal(plain.metadata["stores"], gz.metadata["stores"])
    assert plain.oddities == gz.oddities


def test_mixed_plain_and_gzipped(tmp_path, frames):
    paths = write(tmp_path, frames)
    gz = paths["features"].with_name("features.csv.gz")
    gz.write_bytes(gzip.compress(paths["features"].read_bytes()))
    paths["features"].unlink()
    assert find_table_files(tmp_path, "features") == [gz]
    assert find_table_files(tmp_path, "train") == [paths["train"]]
    pd.testing.assert_frame_equal(read(tmp_path).related["features"], _expected(frames)["features"])


def test_whitespace_around_values_and_names(tmp_path, frames):
    paths = write(tmp_path, frames)
    paths["stores"].write_bytes(b" Store , Type ,Size\n1, A ,151315\n2,B , 202307\n3,C,37392\n")
    stores = read(tmp_path).metadata["stores"]
    assert list(stores["Type"]) == ["A", "B", "C"]
    assert list(stores["Store"]) == [1, 2, 3]


def test_parquet_files_read_like_csv(tmp_path, frames):
    write(tmp_path / "csv", frames)
    folder = tmp_path / "parquet"
    folder.mkdir()
    for key, frame in frames.items():
        frame.to_parquet(folder / f"{key}.parquet", index=False)
    from_csv, from_parquet = read(tmp_path / "csv"), read(folder)
    pd.testing.assert_frame_equal(from_csv.target, from_parquet.target)
    pd.testing.assert_frame_equal(from_csv.related["features"], from_parquet.related["features"])
    pd.testing.assert_frame_equal(from_csv.metadata["stores"], from_parquet.metadata["stores"])


def test_parquet_errors_name_the_row(tmp_path, frames):
    for key, frame in frames.items():
        frame.to_parquet(tmp_path / f"{key}.parquet", index=False)
    sales = frames["train"].astype({"Weekly_Sales": np.float64})
    sales.loc[6, "Weekly_Sales"] = np.inf
    sales.to_parquet(tmp_path / "train.parquet", index=False)
    raises(tmp_path, f"{tmp_path / 'train.parquet'}, row 7", "column Weekly_Sales", "a finite number")
    sales["Weekly_Sales"] = sales["Weekly_Sales"].astype(str)
    sales.loc[6, "Weekly_Sales"] = "lots"
    sales.to_parquet(tmp_path / "train.parquet", index=False)
    raises(tmp_path, "row 7", "found 'lots'", "expected a number")
    frames["train"].to_parquet(tmp_path / "train.parquet", index=False)
    frames["stores"].assign(Store=frames["stores"]["Store"] + 0.5).to_parquet(tmp_path / "stores.parquet", index=False)
    raises(tmp_path, f"{tmp_path / 'stores.parquet'}, row 1", "column Store", "found 1.5", "expected an integer")


def test_glob_concatenates_files_and_errors_name_their_own_file(tmp_path, frames):
    write(tmp_path, {k: v for k, v in frames.items() if k != "train"})
    parts = tmp_path / "sales"
    parts.mkdir()
    train = frames["train"]
    half = len(train) // 2
    (parts / "a.csv").write_bytes(csv_bytes(train.iloc[:half]))
    (parts / "b.csv.gz").write_bytes(gzip.compress(csv_bytes(train.iloc[half:])))
    spec = variant(target__file="sales/*")
    raw = read(tmp_path, spec)
    pd.testing.assert_frame_equal(raw.target, _expected(frames)["train"])
    # A duplicate across the two files names each file's own line.
    (parts / "c.csv").write_bytes(csv_bytes(train.iloc[[half + 1]]))
    raises(tmp_path, f"{parts / 'c.csv'}, line 2", f"already at {parts / 'b.csv.gz'}, line 3", spec=spec)
    (parts / "c.csv").write_bytes(csv_bytes(train.iloc[[0]].assign(Weekly_Sales="x")))
    raises(tmp_path, f"{parts / 'c.csv'}, line 2", "found 'x'", spec=spec)


def test_string_ids_and_another_time_format(tmp_path):
    rows = [
        {"State": s, "Industry": i, "Month": d.strftime("%d/%m/%Y"), "Turnover": 1.5}
        for s in ("NSW", "Victoria") for i in ("Food", "Clothing, footwear") for d in pd.date_range("2018-01-01", periods=3, freq="MS")
    ]  # fmt: skip
    write_simple(tmp_path, [{**r} for r in rows], "retail.csv")
    spec = DatasetSpec.model_validate(
        {
            "name": "retail", "frequency": "MS", "start": "2018-01-01",
            "target": {"file": "retail", "ids": ["State", "Industry"], "time": {"column": "Month", "format": "%d/%m/%Y"},
                       "target": "Turnover"},
        }
    )  # fmt: skip
    raw = read_dataset(spec, tmp_path)
    assert raw.target["State"].dtype == object and set(raw.target["Industry"]) == {"Food", "Clothing, footwear"}
    assert raw.target["Month"].tolist()[:3] == list(pd.date_range("2018-01-01", periods=3, freq="MS"))
    rows[4]["Month"] = "2018-02-01"
    write_simple(tmp_path, rows, "retail.csv")
    raises(tmp_path, line_of(4), "found '2018-02-01'", "format %d/%m/%Y (e.g. 07/03/2019)", spec=spec)
    rows[4]["Month"] = "15/02/2018"
    write_simple(tmp_path, rows, "retail.csv")
    raises(tmp_path, line_of(4), "found '15/02/2018'", "the first day of a month", spec=spec)
    rows[4]["Month"], rows[2]["State"] = "01/02/2018", " "
    write_simple(tmp_path, rows, "retail.csv")
    raises(tmp_path, line_of(2), "column State", "a non-empty value", spec=spec)


def test_read_table_alone(tmp_path, frames):
    paths = write(tmp_path, frames)
    data = read_table(SYNTHETIC, SYNTHETIC.related[0], [paths["features"]])
    assert data.rows.where(0) == f"{paths['features']}, line 2"
    pd.testing.assert_frame_equal(data.frame, _expected(frames)["features"])


# --- the real files -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["walmart", "aus_retail", "store_item_demand"])
def test_real_dataset_reads_cleanly_and_quickly(name):
    folder = REAL / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is not here")
    started = time.perf_counter()
    raw = read(folder, load_spec(name))
    seconds = time.perf_counter() - started
    spec = raw.spec
    assert raw.target[spec.time].dtype == "datetime64[ns]"
    assert not raw.target.duplicated([*spec.ids, spec.time]).any()
    expected = {"walmart": (421_570, 3331), "aus_retail": (64_532, 152), "store_item_demand": (913_000, 500)}[name]
    assert (len(raw.target), len(raw.target[spec.ids].drop_duplicates())) == expected
    assert seconds < 10, f"{name} took {seconds:.1f} s"


def test_parquet_ids_and_timestamps_of_other_types(tmp_path):
    spec = simple_spec("W-MON", ["id"], {"id": "int"}, file="data.parquet")
    dates = pd.to_datetime(["2020-01-06", "2020-01-13"])
    frame = pd.DataFrame({"id": [3.0, 3.0], "date": dates, "y": np.array([1, 2], dtype=np.int64)})
    frame.to_parquet(tmp_path / "data.parquet", index=False)
    raw = read_dataset(spec, tmp_path)
    assert raw.target["id"].dtype == np.int64 and raw.target["id"].tolist() == [3, 3]
    assert raw.target["y"].tolist() == [1.0, 2.0] and raw.target["date"].tolist() == list(dates)
    frame.assign(id=np.array([2**63, 1], dtype=np.uint64)).to_parquet(tmp_path / "data.parquet", index=False)
    raises(tmp_path, "data.parquet, row 1", "column id", f"found {2**63}", "expected an integer", spec=spec)
    frame.assign(date=dates + pd.Timedelta(days=1)).to_parquet(tmp_path / "data.parquet", index=False)
    raises(tmp_path, "data.parquet, row 1", "column date", "expected a Monday", spec=spec)


def test_hourly_data(tmp_path):
    stamps = pd.date_range("2020-01-06 00:00", periods=30, freq="h")
    rows = [{"meter": "m1", "date": t.strftime("%Y-%m-%d %H:%M:%S"), "y": 1.0} for t in stamps]
    write_simple(tmp_path, rows)
    spec = simple_spec("h", ["meter"], format="%Y-%m-%d %H:%M:%S")
    assert read_dataset(spec, tmp_path).target["date"].tolist() == list(stamps)
    rows[5]["date"] = "2020-01-06 05:30:00"
    write_simple(tmp_path, rows)
    raises(tmp_path, line_of(5), "found '2020-01-06 05:30:00'", "expected a whole hour", spec=spec)
    rows[5]["date"] = "2020-01-06 05:00"
    write_simple(tmp_path, rows)
    raises(tmp_path, line_of(5), "format %Y-%m-%d %H:%M:%S (e.g. 2019-03-07 14:00:00)", spec=spec)
