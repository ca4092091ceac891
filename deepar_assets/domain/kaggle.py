"""Reading and validating the Kaggle "Walmart Store Sales" flat files.

The layout is the competition's: ``train.csv`` (sales), ``features.csv`` (store features per
week) and ``stores.csv`` (store attributes), each plain or gzipped. Every check names the
file, the line (1-based, header = line 1), the column, what was found and what was expected.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

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


def _read_strings(path: Path, expected: tuple[str, ...]) -> pa.Table:
    """Read a CSV as string columns (pyarrow, multi-threaded), checking it is readable and has
    the expected columns. Handles gzip, a UTF-8 BOM and CR, LF or CRLF line endings."""
    gz = path.name.endswith(".gz")
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=8 << 20),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in expected}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "Empty CSV file" in text:
            raise DataValidationError(f"{path}: the file is empty; expected a header line {','.join(expected)}") from None
        if "gzip" in text.lower() or "decompress" in text.lower():
            raise DataValidationError(f"{path}: cannot be read as gzip CSV ({text}); is it truncated?") from None
        raise DataValidationError(f"{path}: not a readable CSV file ({text})") from None
    except (EOFError, OSError) as exc:
        raise DataValidationError(
            f"{path}: cannot be read as {'gzip ' if gz else ''}CSV ({exc}); is it truncated?"
        ) from None
    columns = [c.strip() for c in table.column_names]
    table = table.rename_columns(columns)
    missing = [c for c in expected if c not in columns]
    if missing:
        raise DataValidationError(
            f"{path}: missing column(s) {', '.join(missing)}; expected the columns {', '.join(expected)}, "
            f"found {', '.join(columns)}"
        )
    extra = [c for c in columns if c not in expected]
    if extra:
        warnings.warn(f"{path}: ignoring extra column(s) {', '.join(extra)}", stacklevel=3)
    if table.num_rows == 0:
        raise DataValidationError(f"{path}: the file has a header but no data rows")
    table = table.select(list(expected))
    # A column whose header was padded with spaces was not typed as string on reading.
    return pa.table({c: table[c] if table[c].type == pa.string() else pc.cast(table[c], pa.string()) for c in expected})


def read_as_text(path: Path, expected: tuple[str, ...]) -> pd.DataFrame:
    """The expected columns of a Kaggle file as text, each value exactly as written (to pass
    rows on unchanged, e.g. when replaying weeks of a source). No value is checked."""
    table = _read_strings(Path(path), expected)
    return pd.DataFrame({c: table[c].to_numpy(zero_copy_only=False).astype(object) for c in expected})


def _bad_row(path: Path, raw: pa.ChunkedArray, mask: np.ndarray, column: str, expected: str) -> DataValidationError:
    rows = np.flatnonzero(mask)
    first = int(rows[0])
    value = raw[first].as_py()
    return DataValidationError(
        f"{path}, line {first + 2}, column {column}: found {value!r}, expected {expected}"
        + (f" ({len(rows)} such rows)" if len(rows) > 1 else "")
    )


def _numeric(path: Path, table: pa.Table, column: str, integer: bool = False) -> np.ndarray:
    raw = table[column]
    text = pc.utf8_trim_whitespace(raw)
    is_na = pc.is_in(text, value_set=pa.array(sorted(NA_TOKENS))).to_numpy(zero_copy_only=False)
    if is_na.any() and column not in NULLABLE:
        raise _bad_row(path, raw, is_na, column, "a value (NA is only allowed in markdowns, CPI and Unemployment)")
    target = pa.int64() if integer else pa.float64()
    try:
        values = pc.cast(pc.if_else(pa.array(is_na), pa.scalar(None, pa.string()), text), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Slow path, only on bad input: find the first value that is not a number.
        parsed = pd.to_numeric(pd.Series(text.to_numpy(zero_copy_only=False)).where(~is_na), errors="coerce")
        bad = parsed.isna().to_numpy() & ~is_na
        if integer and not bad.any():
            bad = ((parsed % 1) != 0).to_numpy() & ~is_na
        raise _bad_row(path, raw, bad, column, "an integer" if integer else "a number") from None
    if integer:
        return values.to_numpy()
    return values.to_numpy(zero_copy_only=False).astype(np.float64)


def _dates(path: Path, table: pa.Table) -> np.ndarray:
    raw = table["Date"]
    text = pc.utf8_trim_whitespace(raw)
    try:
        dates = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    except pa.ArrowInvalid:  # pragma: no cover - error_is_null makes this unreachable
        dates = pa.nulls(len(text), pa.timestamp("s"))
    bad = dates.is_null().to_numpy(zero_copy_only=False)
    # strptime accepts e.g. 2010-2-5; the Kaggle format is zero-padded.
    bad |= ~pc.match_substring_regex(text, r"^\d{4}-\d{2}-\d{2}$").to_numpy(zero_copy_only=False)
    if bad.any():
        raise _bad_row(path, raw, bad, "Date", "a date as YYYY-MM-DD")
    not_friday = (pc.day_of_week(dates).to_numpy(zero_copy_only=False) != 4)
    if not_friday.any():
        raise _bad_row(path, raw, not_friday, "Date", "a Friday (Walmart weeks end on Fridays)")
    return dates.to_numpy(zero_copy_only=False).astype("datetime64[ns]")


def _booleans(path: Path, table: pa.Table, column: str) -> np.ndarray:
    raw = table[column]
    text = pc.utf8_upper(pc.utf8_trim_whitespace(raw))
    is_true = pc.equal(text, "TRUE").to_numpy(zero_copy_only=False)
    bad = ~(is_true | pc.equal(text, "FALSE").to_numpy(zero_copy_only=False))
    if bad.any():
        raise _bad_row(path, raw, bad, column, "TRUE or FALSE")
    return is_true


def _first_duplicate(path: Path, frame: pd.DataFrame, keys: list[str], what: str) -> None:
    # One integer per row from the key columns' factor codes: hashing a single int64 column is
    # much lighter than DataFrame.duplicated on several when there are tens of millions of rows.
    combined = np.zeros(len(frame), dtype=np.int64)
    for column in keys:
        codes, uniques = pd.factorize(frame[column])
        combined = combined * (len(uniques) + 1) + codes
    duplicated = pd.Series(combined).duplicated(keep="first").to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        values = ", ".join(
            f"{v:%Y-%m-%d}" if isinstance(v, pd.Timestamp) else str(v) for v in frame.iloc[row][keys].tolist()
        )
        raise DataValidationError(
            f"{path}, line {row + 2}: duplicate ({', '.join(keys)}) = ({values}); expected {what} "
            f"({int(duplicated.sum())} duplicates)"
        )


_ARROW_TYPES = {
    "Store": pa.int64(),
    "Dept": pa.int64(),
    "Date": pa.date32(),
    "Weekly_Sales": pa.float64(),
    "IsHoliday": pa.bool_(),
    "Type": pa.string(),
    "Size": pa.int64(),
    **{c: pa.float64() for c in ("Temperature", "Fuel_Price", *MARKDOWNS, "CPI", "Unemployment")},
}


def _read_typed(path: Path, expected: tuple[str, ...]) -> pd.DataFrame | None:
    """The fast path: pyarrow parses and types every column while reading (multi-threaded,
    no intermediate strings). Returns None when anything is off (a bad value, a NA where none
    is allowed, a date that is not a Friday, a misnamed column, an unreadable file); the
    string path then finds the problem and reports it precisely."""
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=8 << 20),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: _ARROW_TYPES[c] for c in expected},
                include_columns=list(expected),
                null_values=sorted(NA_TOKENS),
                strings_can_be_null=False,
                true_values=["TRUE"],
                false_values=["FALSE"],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError, OSError, EOFError):
        return None
    if table.num_rows == 0:
        return None
    for column in expected:
        if column not in NULLABLE and table[column].null_count:
            return None
    if "Date" in expected and pc.any(pc.not_equal(pc.day_of_week(table["Date"]), 4)).as_py():
        return None
    frame = table.to_pandas(date_as_object=False)
    if "Date" in frame:
        frame["Date"] = frame["Date"].astype("datetime64[ns]")
    return frame


def _extra_columns(path: Path, expected: tuple[str, ...]) -> None:
    """Warn about columns beyond the expected ones (the fast path does not read them)."""
    with pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=1 << 16)) as reader:
        names = [n.strip() for n in reader.schema.names]
    extra = [c for c in names if c not in expected]
    if extra:
        warnings.warn(f"{path}: ignoring extra column(s) {', '.join(extra)}", stacklevel=4)


def read_sales(path: Path) -> pd.DataFrame:
    sales = _read_typed(path, SALES_COLUMNS)
    if sales is not None:
        _extra_columns(path, SALES_COLUMNS)
        _first_duplicate(path, sales, ["Store", "Dept", "Date"], "one row per store, department and week")
        return sales
    table = _read_strings(path, SALES_COLUMNS)
    sales = pd.DataFrame(
        {
            "Store": _numeric(path, table, "Store", integer=True),
            "Dept": _numeric(path, table, "Dept", integer=True),
            "Date": _dates(path, table),
            "Weekly_Sales": _numeric(path, table, "Weekly_Sales"),
            "IsHoliday": _booleans(path, table, "IsHoliday"),
        }
    )
    _first_duplicate(path, sales, ["Store", "Dept", "Date"], "one row per store, department and week")
    return sales


def read_features(path: Path) -> pd.DataFrame:
    features = _read_typed(path, FEATURES_COLUMNS)
    if features is not None:
        _extra_columns(path, FEATURES_COLUMNS)
        _first_duplicate(path, features, ["Store", "Date"], "one features row per store and week")
        return features
    table = _read_strings(path, FEATURES_COLUMNS)
    features = pd.DataFrame({"Store": _numeric(path, table, "Store", integer=True), "Date": _dates(path, table)})
    for column in FEATURES_COLUMNS[2:-1]:
        features[column] = _numeric(path, table, column)
    features["IsHoliday"] = _booleans(path, table, "IsHoliday")
    _first_duplicate(path, features, ["Store", "Date"], "one features row per store and week")
    return features


def read_stores(path: Path) -> pd.DataFrame:
    # The original file ends its lines with a bare CR; pyarrow reads CR, LF and CRLF alike.
    table = _read_strings(path, STORES_COLUMNS)
    stores = pd.DataFrame(
        {
            "Store": _numeric(path, table, "Store", integer=True),
            "Type": pc.utf8_trim_whitespace(table["Type"]).to_numpy(zero_copy_only=False).astype(object),
            "Size": _numeric(path, table, "Size", integer=True),
        }
    )
    bad = ~stores["Type"].isin(STORE_TYPES).to_numpy()
    if bad.any():
        raise _bad_row(path, table["Type"], bad, "Type", f"one of {', '.join(STORE_TYPES)}")
    duplicated = stores["Store"].duplicated().to_numpy()
    if duplicated.any():
        raise _bad_row(path, table["Store"], duplicated, "Store", "each store once")
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
    # (Store, week) as one integer: set membership on int64 stays light at tens of millions of rows.
    def store_weeks(frame: pd.DataFrame) -> np.ndarray:
        days = frame["Date"].to_numpy().astype("datetime64[D]").astype(np.int64)  # Fridays: one per week
        return frame["Store"].to_numpy(dtype=np.int64) * 1_000_000 + days

    sales_keys = pd.unique(store_weeks(raw.sales))
    orphan = sales_keys[~np.isin(sales_keys, store_weeks(raw.features))]
    if len(orphan):
        first = int(orphan[0])
        store, days = divmod(first, 1_000_000)
        date = np.datetime64(days, "D")
        raise DataValidationError(
            f"{files['sales']}: store {store} has sales in the week {date} but "
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
