"""Reading and validating the Kaggle "Walmart Store Sales" flat files.

The layout is the competition's: ``train.csv`` (sales), ``features.csv`` (store features per
week) and ``stores.csv`` (store attributes), each plain or gzipped. Every check names the
file, the line (1-based, header = line 1), the column, what was found and what was expected.
"""

from __future__ import annotations

import gzip
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from deepar_assets.errors import DataValidationError

SALES_FILE = "train"
FEATURES_FILE = "features"
STORES_FILE = "stores"

SALES_COLUMNS = ("Store", "Dept", "Date", "Weekly_Sales", "IsHoliday")
MARKDOWNS = ("MarkDown1", "MarkDown2", "MarkDown3", "MarkDown4", "MarkDown5")
FEATURES_COLUMNS = (
    "Store",
    "Date",
    "Temperature",
    "Fuel_Price",
    *MARKDOWNS,
    "CPI",
    "Unemployment",
    "IsHoliday",
)
STORES_COLUMNS = ("Store", "Type", "Size")
STORE_TYPES = ("A", "B", "C")

# Columns where the literal NA is legal (markdowns before 2011-11-11, CPI/Unemployment in
# the last weeks of features.csv).
NULLABLE = frozenset({*MARKDOWNS, "CPI", "Unemployment"})
NA_TOKENS = frozenset({"", "NA", "NaN", "nan", "N/A"})


@dataclass
class RawData:
    """The three validated tables, typed.

    sales: Store, Dept (int), Date (datetime64, Friday), Weekly_Sales (float), IsHoliday (bool)
    features: Store, Date, Temperature … Unemployment (float, NaN where NA), IsHoliday (bool)
    stores: Store (int), Type (str A/B/C), Size (int)
    """

    sales: pd.DataFrame
    features: pd.DataFrame
    stores: pd.DataFrame
    source: str = ""
    oddities: dict[str, int] = field(default_factory=dict)


def find_file(folder: str | Path, name: str) -> Path:
    """``<folder>/<name>.csv`` or ``<folder>/<name>.csv.gz``; exactly one must exist."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataValidationError(f"source folder {folder} does not exist or is not a folder")
    candidates = [p for p in (folder / f"{name}.csv", folder / f"{name}.csv.gz") if p.exists()]
    if not candidates:
        raise DataValidationError(
            f"{folder}: expected {name}.csv or {name}.csv.gz (Kaggle Walmart layout), found neither"
        )
    if len(candidates) > 1:
        raise DataValidationError(
            f"{folder}: both {name}.csv and {name}.csv.gz exist; keep one so it is clear which is read"
        )
    return candidates[0]


def _read_strings(path: Path, expected: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV as strings, checking it is readable and has the expected columns."""
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",  # tolerate a UTF-8 byte order mark
            compression="gzip" if path.name.endswith(".gz") else None,
        )
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{path}: the file is empty; expected a header line {','.join(expected)}") from None
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DataValidationError(f"{path}: cannot be read as {'gzip ' if path.name.endswith('.gz') else ''}CSV ({exc}); is it truncated?") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"{path}: not a readable CSV file ({exc})") from None
    columns = [c.strip() for c in frame.columns]
    frame.columns = columns
    missing = [c for c in expected if c not in columns]
    if missing:
        raise DataValidationError(
            f"{path}: missing column(s) {', '.join(missing)}; expected the columns {', '.join(expected)}, "
            f"found {', '.join(columns)}"
        )
    extra = [c for c in columns if c not in expected]
    if extra:
        warnings.warn(f"{path}: ignoring extra column(s) {', '.join(extra)}", stacklevel=3)
    if frame.empty:
        raise DataValidationError(f"{path}: the file has a header but no data rows")
    return frame[list(expected)]


def _bad_row(path: Path, frame: pd.DataFrame, mask: np.ndarray, column: str, expected: str) -> DataValidationError:
    first = int(np.flatnonzero(mask)[0])
    count = int(mask.sum())
    value = frame[column].iloc[first]
    return DataValidationError(
        f"{path}, line {first + 2}, column {column}: found {value!r}, expected {expected}"
        + (f" ({count} such rows)" if count > 1 else "")
    )


def _numeric(path: Path, frame: pd.DataFrame, column: str, integer: bool = False) -> pd.Series:
    raw = frame[column].str.strip()
    is_na = raw.isin(NA_TOKENS).to_numpy()
    values = pd.to_numeric(raw.where(~is_na), errors="coerce")
    bad = values.isna().to_numpy() & ~is_na
    if bad.any():
        raise _bad_row(path, frame, bad, column, "an integer" if integer else "a number")
    if is_na.any() and column not in NULLABLE:
        raise _bad_row(path, frame, is_na, column, "a value (NA is only allowed in markdowns, CPI and Unemployment)")
    if integer:
        non_integer = (values % 1 != 0).to_numpy()
        if non_integer.any():
            raise _bad_row(path, frame, non_integer, column, "an integer")
        return values.astype(np.int64)
    return values.astype(np.float64)


def _dates(path: Path, frame: pd.DataFrame) -> pd.Series:
    dates = pd.to_datetime(frame["Date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        raise _bad_row(path, frame, bad, "Date", "a date as YYYY-MM-DD")
    not_friday = (dates.dt.dayofweek != 4).to_numpy()
    if not_friday.any():
        raise _bad_row(path, frame, not_friday, "Date", "a Friday (Walmart weeks end on Fridays)")
    return dates


def _booleans(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    raw = frame[column].str.strip().str.upper()
    bad = ~raw.isin(["TRUE", "FALSE"]).to_numpy()
    if bad.any():
        raise _bad_row(path, frame, bad, column, "TRUE or FALSE")
    return raw == "TRUE"


def read_sales(path: Path) -> pd.DataFrame:
    frame = _read_strings(path, SALES_COLUMNS)
    sales = pd.DataFrame(
        {
            "Store": _numeric(path, frame, "Store", integer=True),
            "Dept": _numeric(path, frame, "Dept", integer=True),
            "Date": _dates(path, frame),
            "Weekly_Sales": _numeric(path, frame, "Weekly_Sales"),
            "IsHoliday": _booleans(path, frame, "IsHoliday"),
        }
    )
    duplicated = sales.duplicated(["Store", "Dept", "Date"], keep="first").to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        key = sales.iloc[row]
        raise DataValidationError(
            f"{path}, line {row + 2}: duplicate (Store, Dept, Date) = ({key.Store}, {key.Dept}, "
            f"{key.Date:%Y-%m-%d}); expected one row per store, department and week "
            f"({int(duplicated.sum())} duplicates)"
        )
    return sales


def read_features(path: Path) -> pd.DataFrame:
    frame = _read_strings(path, FEATURES_COLUMNS)
    features = pd.DataFrame({"Store": _numeric(path, frame, "Store", integer=True), "Date": _dates(path, frame)})
    for column in FEATURES_COLUMNS[2:-1]:
        features[column] = _numeric(path, frame, column)
    features["IsHoliday"] = _booleans(path, frame, "IsHoliday")
    duplicated = features.duplicated(["Store", "Date"]).to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise DataValidationError(
            f"{path}, line {row + 2}: duplicate (Store, Date) = ({features.Store.iloc[row]}, "
            f"{features.Date.iloc[row]:%Y-%m-%d}); expected one features row per store and week"
        )
    return features


def read_stores(path: Path) -> pd.DataFrame:
    # pandas' C parser reads the original file's bare-CR line endings correctly.
    frame = _read_strings(path, STORES_COLUMNS)
    stores = pd.DataFrame(
        {
            "Store": _numeric(path, frame, "Store", integer=True),
            "Type": frame["Type"].str.strip(),
            "Size": _numeric(path, frame, "Size", integer=True),
        }
    )
    bad = ~stores["Type"].isin(STORE_TYPES).to_numpy()
    if bad.any():
        raise _bad_row(path, frame, bad, "Type", f"one of {', '.join(STORE_TYPES)}")
    duplicated = stores["Store"].duplicated().to_numpy()
    if duplicated.any():
        raise _bad_row(path, frame, duplicated, "Store", "each store once")
    return stores


def check_consistency(raw: RawData, files: dict[str, Path]) -> None:
    """Cross-file checks: every sales row has its store's features for that week, and every
    store is described in stores.csv."""
    known_stores = set(raw.stores["Store"].tolist())
    for name, frame in (("sales", raw.sales), ("features", raw.features)):
        unknown = sorted(set(frame["Store"].unique().tolist()) - known_stores)
        if unknown:
            raise DataValidationError(
                f"{files[name]}: store(s) {unknown[:10]} are missing from {files['stores']}; "
                "expected every store to have a Type and Size"
            )
    keys = raw.sales[["Store", "Date"]].drop_duplicates()
    joined = keys.merge(raw.features[["Store", "Date"]], how="left", on=["Store", "Date"], indicator=True)
    orphan = joined[joined["_merge"] == "left_only"]
    if len(orphan):
        first = orphan.iloc[0]
        raise DataValidationError(
            f"{files['sales']}: store {first.Store} has sales in the week {first.Date:%Y-%m-%d} but "
            f"{files['features']} has no row for that store and week ({len(orphan)} such store-weeks)"
        )


def read_kaggle(folder: str | Path) -> RawData:
    """Read and validate the three Kaggle files from a folder."""
    files = {
        "sales": find_file(folder, SALES_FILE),
        "features": find_file(folder, FEATURES_FILE),
        "stores": find_file(folder, STORES_FILE),
    }
    raw = RawData(
        sales=read_sales(files["sales"]),
        features=read_features(files["features"]),
        stores=read_stores(files["stores"]),
        source=str(Path(folder)),
    )
    check_consistency(raw, files)
    raw.oddities = {
        "negative_sales_rows": int((raw.sales["Weekly_Sales"] < 0).sum()),
        "markdown_na_values": int(raw.features[list(MARKDOWNS)].isna().sum().sum()),
        "cpi_unemployment_na_values": int(raw.features[["CPI", "Unemployment"]].isna().sum().sum()),
    }
    return raw
