"""Reading one table of a dataset, typed as its spec declares (plain pandas and pyarrow).

Each table's columns get a role from the spec: an id or key (int or string), the timestamp
(parsed with the declared format, on the frequency's grid), the target and numeric covariates
(finite numbers; NA only where the covariate is nullable), bool covariates (TRUE/FALSE,
true/false, True/False, 1/0) and metadata attributes (categorical, within the declared values
when given, or numeric).

A CSV is read twice at most. The fast path lets pyarrow parse and type every column while
reading (multi-threaded, no intermediate strings) and gives up at the first doubt: a value it
cannot parse, a NA where none is allowed, a timestamp off the grid, a value outside the
declared ones. The slow path then reads the columns as text and finds the first bad value
precisely, so every error names the file, the line (1-based, the header is line 1), the column,
what was found and what was expected. Parquet files are typed by their own schema and checked
the same way (rows are numbered from 1).

After reading, :func:`check_rows` refuses duplicate (ids…, time) or key rows and data coarser
than the declared frequency.
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
import pyarrow.parquet as pq

from deepar_assets.domain.reading.files import file_format
from deepar_assets.domain.spec import DatasetSpec, MetadataTable, RelatedTable, TargetTable, periods
from deepar_assets.errors import DataValidationError

NA_TOKENS = ("", "NA", "NaN", "nan", "N/A")
TRUE_TOKENS = ("TRUE", "true", "True", "1")
FALSE_TOKENS = ("FALSE", "false", "False", "0")
ISO_DATE = "%Y-%m-%d"
_BLOCK = 8 << 20


# -- what each column is ----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column a table must have, as the spec declares it."""

    name: str
    kind: str  # int | string | time | number | bool
    field: str  # the spec field that names it (target.target, related[0] (features).covariates …)
    nullable: bool = False
    values: tuple | None = None  # allowed values (categorical attributes)
    fmt: str = ISO_DATE  # strptime format (time)


@dataclass(frozen=True)
class Layout:
    """What the spec says about one table."""

    name: str
    field: str  # target, related[0] (features), metadata[0] (stores)
    columns: tuple[Column, ...]
    keys: tuple[str, ...]  # the series keys: the ids (target), the table's keys (related, metadata)
    time: str | None  # the timestamp column (None for metadata)
    frequency: str | None  # the data's frequency (None for metadata)
    ignore: tuple[str, ...]
    nullable_note: str  # where NA is allowed, for messages

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def timed(self) -> tuple[str, str]:
        """The time column and the frequency of a target or related table."""
        if self.time is None or self.frequency is None:
            raise ValueError(f"{self.field}: a metadata table has no time column")
        return self.time, self.frequency


def table_field(spec: DatasetSpec, table: TargetTable | RelatedTable | MetadataTable) -> str:
    if table is spec.target or isinstance(table, TargetTable):
        return "target"
    if isinstance(table, RelatedTable):
        return f"related[{spec.related.index(table)}] ({table.name})"
    return f"metadata[{spec.metadata.index(table)}] ({table.name})"


def layout(spec: DatasetSpec, table: TargetTable | RelatedTable | MetadataTable) -> Layout:
    """The columns a table must have, each with its role, type and the spec field naming it."""
    where = table_field(spec, table)
    types = spec.target.id_types
    nullable = [c for c in spec.covariate_columns() if spec.covariate(c).nullable]
    note = (
        f"NA is only allowed in covariates declared nullable ({', '.join(nullable)})"
        if nullable
        else "NA is only allowed in covariates declared nullable, and none is"
    )

    def key_columns(keys: list[str], what: str) -> list[Column]:
        return [Column(k, types.get(k, "string"), f"{where}.{what}") for k in keys]

    def covariates(names: list[str]) -> list[Column]:
        out = []
        for name in names:
            cov = spec.covariate(name)
            out.append(Column(name, cov.type, f"{where}.covariates", nullable=cov.nullable))
        return out

    if isinstance(table, TargetTable):
        columns = [
            *key_columns(table.ids, "ids"),
            Column(table.time.column, "time", f"{where}.time.column", fmt=table.time.format),
            Column(table.target, "number", f"{where}.target"),
            *covariates(table.covariates),
        ]
        return Layout(
            table.name,
            where,
            tuple(columns),
            tuple(table.ids),
            table.time.column,
            spec.frequency,
            tuple(table.ignore),
            note,
        )
    if isinstance(table, RelatedTable):
        columns = [
            *key_columns(table.keys, "keys"),
            Column(table.time.column, "time", f"{where}.time.column", fmt=table.time.format),
            *covariates(table.covariates),
        ]
        return Layout(
            table.name,
            where,
            tuple(columns),
            tuple(table.keys),
            table.time.column,
            spec.frequency,
            tuple(table.ignore),
            note,
        )
    columns = key_columns(table.keys, "keys")
    for name, attribute in table.attributes.items():
        if attribute.kind == "categorical":
            values = None
            if attribute.values is not None:
                cast = int if attribute.type == "int" else str
                values = tuple(cast(v) for v in attribute.values)
            columns.append(Column(name, attribute.type, f"{where}.attributes.{name}", values=values))
        else:
            columns.append(Column(name, "number", f"{where}.attributes.{name}"))
    return Layout(table.name, where, tuple(columns), tuple(table.keys), None, None, tuple(table.ignore), note)


# -- where a row is -----------------------------------------------------------------------------


@dataclass
class Rows:
    """Where each row of a table (possibly several files concatenated) came from: a local path,
    or how messages name the file (a landing drop's URI, a stored object)."""

    parts: list[tuple[Path | str, int, str]] = field(default_factory=list)  # (file, first row, csv|parquet)

    def add(self, path: Path | str, first: int, fmt: str) -> None:
        self.parts.append((path, first, fmt))

    def locate(self, row: int) -> tuple[Path | str, str]:
        """The file and ``line N`` (CSV; the header is line 1) or ``row N`` (Parquet) of a row."""
        starts = [p[1] for p in self.parts]
        path, first, fmt = self.parts[int(np.searchsorted(starts, row, side="right")) - 1]
        return path, _line(row - first, fmt)

    def where(self, row: int) -> str:
        path, line = self.locate(row)
        return f"{path}, {line}"

    @property
    def name(self) -> str:
        paths = [str(p[0]) for p in self.parts]
        return paths[0] if len(paths) == 1 else f"{paths[0]} (and {len(paths) - 1} more files)"


def _line(row: int, fmt: str) -> str:
    return f"line {row + 2}" if fmt == "csv" else f"row {row + 1}"


@dataclass
class TableData:
    """One table, read and typed: its frame (columns in the layout's order) and its rows' origin."""

    layout: Layout
    frame: pd.DataFrame
    rows: Rows


# -- messages ---------------------------------------------------------------------------------------


def grid_text(alias: str) -> str:
    """What a timestamp on the frequency's grid is, in words."""
    text = periods.normalize(alias)
    if text.startswith("W-"):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=periods._WEEKDAYS.index(text[2:]))
        name = day.day_name()
        return f"a {name} at midnight (frequency {text}: weeks are labelled by their {name})"
    return {
        "D": "a date at midnight (frequency D)",
        "h": "a whole hour (frequency h)",
        "MS": "the first day of a month at midnight (frequency MS)",
        "ME": "the last day of a month at midnight (frequency ME)",
    }.get(text, f"a period of the frequency {text}")


def format_text(fmt: str) -> str:
    """``%Y-%m-%d`` → ``a date as YYYY-MM-DD``; other formats are shown with an example."""
    if fmt == ISO_DATE:
        return "a date as YYYY-MM-DD"
    example = pd.Timestamp("2019-03-07 14:00").strftime(fmt)
    return f"a timestamp in the format {fmt} (e.g. {example})"


def _expected(column: Column, layout: Layout) -> str:
    if column.kind == "int":
        return "an integer"
    if column.kind == "string":
        return "a non-empty value"
    if column.kind == "time":
        return format_text(column.fmt)
    if column.kind == "bool":
        return "TRUE or FALSE (or true/false, True/False, 1/0)"
    return "a number"


def _bad_row(
    path: Path, fmt: str, raw: pa.ChunkedArray | pa.Array, mask: np.ndarray, column: str, expected: str
) -> DataValidationError:
    rows = np.flatnonzero(mask)
    first = int(rows[0])
    value = raw[first].as_py()
    if isinstance(value, float) and np.isnan(value):
        value = "NaN"
    elif value is None:
        value = "NA" if fmt == "csv" else "null"
    return DataValidationError(
        f"{path}, {_line(first, fmt)}, column {column}: found {value!r}, expected {expected}"
        + (f" ({len(rows)} such rows)" if len(rows) > 1 else "")
    )


# -- the header -------------------------------------------------------------------------------------


def _csv_error(path: Path, exc: BaseException, header: str) -> DataValidationError:
    text = str(exc)
    gz = path.name.lower().endswith(".gz")
    if "Empty CSV file" in text:
        return DataValidationError(f"{path}: the file is empty; expected a header line {header}")
    if gz and ("gzip" in text.lower() or "decompress" in text.lower() or isinstance(exc, (EOFError, OSError))):
        return DataValidationError(f"{path}: cannot be read as gzip CSV ({text}); is it truncated?")
    if isinstance(exc, (EOFError, OSError)) and not isinstance(exc, pa.ArrowException):
        return DataValidationError(f"{path}: cannot be read as {'gzip ' if gz else ''}CSV ({exc}); is it truncated?")
    return DataValidationError(f"{path}: not a readable CSV file ({text})")


_READ_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError, pa.ArrowTypeError, OSError, EOFError)


def read_header(path: Path, layout: Layout) -> list[str]:
    """The column names of a file, as written (CSV: the header line; Parquet: the schema)."""
    if file_format(path) == "parquet":
        try:
            return list(pq.read_schema(path).names)
        except _READ_ERRORS as exc:
            raise DataValidationError(f"{path}: not a readable Parquet file ({exc})") from None
    try:
        with pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=1 << 16)) as reader:
            return list(reader.schema.names)
    except _READ_ERRORS as exc:
        raise _csv_error(path, exc, ",".join(layout.names)) from None


def check_header(path: Path, header: list[str], layout: Layout) -> dict[str, str]:
    """Every column the spec names is in the file, each once; extra columns not in ``ignore``
    are warned about. Returns spec column name → the name as written (spaces around it)."""
    stripped = [n.strip().lstrip("\ufeff") for n in header]
    seen: set[str] = set()
    for name in stripped:
        if name in seen:
            raise DataValidationError(
                f"{path}, line 1: the column {name!r} appears twice in the header; expected each column once "
                f"(columns: {', '.join(stripped)})"
            )
        seen.add(name)
    missing = [c for c in layout.columns if c.name not in seen]
    if missing:
        problems = "; ".join(f"{c.field}: column {c.name!r} is not in {path}" for c in missing)
        raise DataValidationError(
            f"{problems} (its columns: {', '.join(stripped)}; {layout.field} expects {', '.join(layout.names)})"
        )
    extra = [n for n in stripped if n not in layout.names and n not in layout.ignore]
    if extra:
        warnings.warn(
            f"{path}: ignoring extra column(s) {', '.join(extra)} (list them under {layout.field}.ignore to silence "
            "this)",
            stacklevel=4,
        )
    return {s: raw for s, raw in zip(stripped, header, strict=True) if s in layout.names}


# -- typing a column ------------------------------------------------------------------------------


def _mask(array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _na_mask(text) -> np.ndarray:
    return _mask(pc.is_in(text, value_set=pa.array(NA_TOKENS)))


def on_grid(stamps: np.ndarray, alias: str) -> np.ndarray:
    """``periods.on_grid`` on a datetime64[ns] array, in numpy for the usual frequencies (fast on
    millions of rows)."""
    text = periods.normalize(alias)
    values = np.asarray(stamps, dtype="datetime64[ns]")
    if text == "h":
        return values.astype(np.int64) % (3_600 * 10**9) == 0
    days = values.astype("datetime64[D]")
    midnight = values == days
    if text == "D":
        return midnight
    if text.startswith("W-"):
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        return midnight & (weekday == periods._WEEKDAYS.index(text[2:]))
    if text == "MS":
        return midnight & (days == days.astype("datetime64[M]").astype("datetime64[D]"))
    if text == "ME":
        return midnight & ((days + 1).astype("datetime64[M]").astype("datetime64[D]") == days + 1)
    return periods.on_grid(values, alias)


def _on_grid_or_raise(path: Path, fmt: str, raw, stamps: np.ndarray, column: Column, layout: Layout) -> None:
    if layout.frequency is None:
        return
    off = ~on_grid(stamps, layout.frequency)
    if off.any():
        raise _bad_row(path, fmt, raw, off, column.name, grid_text(layout.frequency))


def _values_or_raise(path: Path, fmt: str, raw, values: np.ndarray, column: Column) -> None:
    if column.values is None:
        return
    bad = ~pd.Series(values).isin(list(column.values)).to_numpy()
    if bad.any():
        raise _bad_row(path, fmt, raw, bad, column.name, f"one of {', '.join(str(v) for v in column.values)}")


def _from_text(path: Path, fmt: str, raw, column: Column, layout: Layout) -> np.ndarray:
    """A column of text typed as its role says; the first bad value raises naming its line."""
    if raw.type != pa.string():
        raw = pc.cast(raw, pa.string())
    text = pc.utf8_trim_whitespace(raw)
    name = column.name
    if column.kind == "string":
        empty = _mask(pc.equal(text, ""))
        if empty.any():
            raise _bad_row(path, fmt, raw, empty, name, "a non-empty value")
        values = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
        _values_or_raise(path, fmt, raw, values, column)
        return values
    is_na = _na_mask(text)
    if is_na.any() and not column.nullable:
        what = _expected(column, layout)
        raise _bad_row(path, fmt, raw, is_na, name, f"{what} ({layout.nullable_note})")
    if column.kind == "int":
        try:  # what pyarrow's own parser takes (it also reads 0x1F as 31, as the fast path does)
            values = pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ok = _mask(pc.match_substring_regex(text, r"^-?\d{1,18}$"))
            for row in np.flatnonzero(~ok):  # the rare rest, one by one: 19 digits, hex …
                try:
                    pc.cast(pa.array([text[int(row)].as_py()]), pa.int64())
                    ok[row] = True
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    pass
            raise _bad_row(path, fmt, raw, ~ok, name, "an integer") from None
        _values_or_raise(path, fmt, raw, values, column)
        return values
    if column.kind == "time":
        stamps = pc.strptime(text, format=column.fmt, unit="s", error_is_null=True)
        bad = _mask(stamps.is_null())
        if column.fmt == ISO_DATE:  # strptime accepts 2010-2-5; the format is zero-padded
            bad |= ~_mask(pc.match_substring_regex(text, r"^\d{4}-\d{2}-\d{2}$"))
        if bad.any():
            raise _bad_row(path, fmt, raw, bad, name, format_text(column.fmt))
        values = stamps.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
        _on_grid_or_raise(path, fmt, raw, values, column, layout)
        return values
    if column.kind == "bool":
        is_true = _mask(pc.is_in(text, value_set=pa.array(TRUE_TOKENS)))
        is_false = _mask(pc.is_in(text, value_set=pa.array(FALSE_TOKENS)))
        bad = ~(is_true | is_false | is_na)
        if bad.any():
            raise _bad_row(path, fmt, raw, bad, name, _expected(column, layout))
        return np.where(is_na, np.nan, is_true.astype(np.float64))
    # a number
    try:
        values = pc.cast(pc.if_else(pa.array(is_na), pa.scalar(None, pa.string()), text), pa.float64())
        values = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = pd.to_numeric(
            pd.Series(text.to_numpy(zero_copy_only=False), dtype=object).where(~is_na), errors="coerce"
        )
        not_number = parsed.isna().to_numpy() & ~is_na
        if not_number.any():
            raise _bad_row(path, fmt, raw, not_number, name, "a number") from None
        values = parsed.to_numpy(dtype=np.float64)
    infinite = ~np.isfinite(values) & ~is_na
    if infinite.any():
        raise _bad_row(path, fmt, raw, infinite, name, "a finite number")
    return values


def _from_typed(path: Path, raw: pa.ChunkedArray, column: Column, layout: Layout) -> np.ndarray:
    """A Parquet column of a non-text type, checked and converted as its role says."""
    fmt, name, kind, typ = "parquet", column.name, column.kind, raw.type
    if pa.types.is_dictionary(typ):
        raw = raw.cast(typ.value_type)
        typ = raw.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return _from_text(path, fmt, raw.cast(pa.string()), column, layout)
    nulls = _mask(raw.is_null(nan_is_null=True)) if raw.null_count or pa.types.is_floating(typ) else None
    if nulls is not None and nulls.any() and not column.nullable:
        raise _bad_row(path, fmt, raw, nulls, name, f"{_expected(column, layout)} ({layout.nullable_note})")
    numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)
    if kind == "time":
        if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
            if pa.types.is_timestamp(typ) and typ.tz is not None:
                raw = raw.cast(pa.timestamp(typ.unit))
            values = raw.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False)
            _on_grid_or_raise(path, fmt, raw, values, column, layout)
            return values
    elif kind == "string":
        return _from_text(path, fmt, raw.cast(pa.string()), column, layout)
    elif kind == "bool":
        if pa.types.is_boolean(typ):
            return np.asarray(raw.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        if numeric:
            values = np.asarray(raw.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64)
            bad = ~np.isin(values, (0.0, 1.0)) & ~np.isnan(values)
            if bad.any():
                raise _bad_row(path, fmt, raw, bad, name, _expected(column, layout))
            return values
    elif numeric or pa.types.is_boolean(typ):
        floats = np.asarray(raw.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64)
        if kind == "int":
            if pa.types.is_integer(typ):
                bad = _mask(pc.greater(raw, pa.scalar(2**63 - 1, pa.uint64()))) if typ == pa.uint64() else None
            else:
                bad = ~np.isfinite(floats) | (floats != np.round(floats)) | (np.abs(floats) > 2**53)
            if bad is not None and bad.any():
                raise _bad_row(path, fmt, raw, bad, name, "an integer")
            values = raw.cast(pa.int64(), safe=False).to_numpy(zero_copy_only=False)
            values = np.asarray(values, dtype=np.int64)
            _values_or_raise(path, fmt, raw, values, column)
            return values
        infinite = np.isinf(floats)
        if infinite.any():
            raise _bad_row(path, fmt, raw, infinite, name, "a finite number")
        return floats
    raise DataValidationError(
        f"{path}, column {name}: found a column of type {typ}, expected {_expected(column, layout)} ({column.field})"
    )


# -- reading a file -----------------------------------------------------------------------------------


def _arrow_type(column: Column) -> pa.DataType:
    if column.kind == "int":
        return pa.int64()
    if column.kind == "string":
        return pa.string()
    if column.kind == "time":
        return pa.date32() if column.fmt == ISO_DATE else pa.timestamp("s")
    if column.kind == "bool":
        return pa.bool_()
    return pa.float64()


def _read_csv_fast(path: Path, layout: Layout, written: dict[str, str]) -> dict[str, np.ndarray] | None:
    """pyarrow types every column while reading; None at the first doubt (the slow path then
    finds the problem and names it)."""
    parsers = [c.fmt for c in layout.columns if c.kind == "time" and c.fmt != ISO_DATE]
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=_BLOCK),
            convert_options=pa_csv.ConvertOptions(
                column_types={written[c.name]: _arrow_type(c) for c in layout.columns},
                include_columns=[written[c.name] for c in layout.columns],
                null_values=list(NA_TOKENS),
                strings_can_be_null=False,
                true_values=list(TRUE_TOKENS),
                false_values=list(FALSE_TOKENS),
                timestamp_parsers=parsers or None,
            ),
        )
    except _READ_ERRORS:
        return None
    if table.num_rows == 0:
        return None
    out: dict[str, np.ndarray] = {}
    for column in layout.columns:
        array = table[written[column.name]]
        if array.null_count and not column.nullable:
            return None
        if column.kind == "string":
            array = pc.utf8_trim_whitespace(array)
            if pc.any(pc.equal(array, "")).as_py():
                return None
            values = np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)
        elif column.kind == "int":
            values = array.to_numpy(zero_copy_only=False)
        elif column.kind == "time":
            values = array.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False)
            if layout.frequency is not None and not on_grid(values, layout.frequency).all():
                return None
        elif column.kind == "bool":
            values = np.asarray(array.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        else:
            values = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
            finite = np.isfinite(values)
            if not finite.all() and (np.isinf(values).any() or np.isnan(values).sum() != array.null_count):
                return None  # inf, 1e400, or a NaN spelt other than the NA tokens
        if column.values is not None and not pd.Series(values).isin(list(column.values)).all():
            return None
        out[column.name] = values
    return out


def _read_csv_text(path: Path, layout: Layout, written: dict[str, str]) -> pa.Table:
    """The spec's columns as text, exactly as written (no value is checked)."""
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=_BLOCK),
            convert_options=pa_csv.ConvertOptions(
                column_types={written[c]: pa.string() for c in layout.names},
                include_columns=[written[c] for c in layout.names],
                strings_can_be_null=False,
            ),
        )
    except _READ_ERRORS as exc:
        raise _csv_error(path, exc, ",".join(layout.names)) from None
    return table


def read_file(path: Path, layout: Layout) -> pd.DataFrame:
    """One file of a table, typed; every problem raises DataValidationError naming the file,
    line, column, what was found and what was expected."""
    path = Path(path)
    fmt = file_format(path)
    header = read_header(path, layout)
    written = check_header(path, header, layout)
    if fmt == "csv":
        typed = _read_csv_fast(path, layout, written)
        if typed is None:
            table = _read_csv_text(path, layout, written)
            if table.num_rows == 0:
                raise DataValidationError(f"{path}: the file has a header but no data rows")
            typed = {c.name: _from_text(path, fmt, table[written[c.name]], c, layout) for c in layout.columns}
    else:
        try:
            table = pq.read_table(path, columns=[written[c] for c in layout.names])
        except _READ_ERRORS as exc:
            raise DataValidationError(f"{path}: not a readable Parquet file ({exc})") from None
        if table.num_rows == 0:
            raise DataValidationError(f"{path}: the file has no rows")
        typed = {c.name: _from_typed(path, table[written[c.name]], c, layout) for c in layout.columns}
    return pd.DataFrame(typed, columns=layout.names)


def read_as_text(path: Path, names: list[str]) -> pd.DataFrame:
    """Some columns of a CSV as text, each value exactly as written (to pass rows on unchanged,
    e.g. when replaying periods of a source). No value is checked."""
    path = Path(path)
    lay = Layout("", "", tuple(Column(n, "string", n) for n in names), (), None, None, (), "")
    written = check_header(path, read_header(path, lay), lay)
    table = _read_csv_text(path, lay, written)
    return pd.DataFrame({n: table[written[n]].to_numpy(zero_copy_only=False).astype(object) for n in names})


# -- a whole table --------------------------------------------------------------------------------------


def series_codes(frame: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> np.ndarray:
    """One int64 per row identifying its combination of ``columns`` (0 for every row when none)."""
    combined = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for column in columns:
        codes, uniques = pd.factorize(frame[column])
        if size * (len(uniques) + 1) >= 2**62:
            combined, dense = pd.factorize(combined)
            combined, size = combined.astype(np.int64), len(dense)
        combined = combined * (len(uniques) + 1) + codes
        size *= len(uniques) + 1
    return combined


def period_steps(times, first, alias: str) -> np.ndarray:
    """``periods.steps_between`` in numpy (int64), for timestamps on the grid."""
    values = np.asarray(times, dtype="datetime64[ns]")
    origin = np.datetime64(pd.Timestamp(first), "ns")
    text = periods.normalize(alias)
    if text in ("MS", "ME"):
        return (values.astype("datetime64[M]") - origin.astype("datetime64[M]")).astype(np.int64)
    step = {"h": 3_600, "D": 86_400}.get(text, 7 * 86_400) * 10**9
    return (values - origin).astype(np.int64) // step


def format_value(value, fmt: str = ISO_DATE) -> str:
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).strftime(fmt)
    return str(value)


def describe(frame: pd.DataFrame, row: int, columns: list[str] | tuple[str, ...]) -> str:
    """``shop 2, sku 7`` for the key values of one row."""
    return ", ".join(f"{c} {format_value(frame[c].iat[row])}" for c in columns)


def _gap_text(first: pd.Timestamp, second: pd.Timestamp, alias: str) -> str:
    if periods.frequency(alias).kind == "month":
        months = (second.year - first.year) * 12 + second.month - first.month
        return f"{months} month{'s' if months != 1 else ''}"
    delta = second - first
    if delta % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{delta.days} days"
    return f"{delta / pd.Timedelta(hours=1):g} hours"


def check_rows(data: TableData) -> None:
    """No duplicate (keys…, time) rows (metadata: no duplicate keys); the timestamps step by
    whole periods and the data is not coarser than the declared frequency."""
    lay, frame, rows = data.layout, data.frame, data.rows
    keys = list(lay.keys)
    if lay.time is None or lay.frequency is None:  # a metadata table: no time
        codes = series_codes(frame, keys)
        duplicated = pd.Series(codes).duplicated(keep="first").to_numpy()
        if duplicated.any():
            row = int(np.flatnonzero(duplicated)[0])
            original = int(np.flatnonzero(codes == codes[row])[0])
            raise DataValidationError(
                f"{rows.where(row)}: duplicate ({', '.join(keys)}) = "
                f"({', '.join(format_value(frame[k].iat[row]) for k in keys)}), already at {rows.where(original)}; "
                f"expected each ({', '.join(keys)}) once in {lay.name} ({int(duplicated.sum())} duplicates)"
            )
        return
    if not len(frame):
        return
    time_fmt = lay.column(lay.time).fmt
    series = series_codes(frame, keys)
    times = frame[lay.time]
    first = times.min()
    steps = period_steps(times, first, lay.frequency)
    span = int(steps.max()) + 1
    combined = series * span + steps
    order = np.argsort(combined, kind="stable")
    ordered = combined[order]
    same = ordered[1:] == ordered[:-1]
    if same.any():
        later = order[1:][same]
        row = int(later.min())
        original = int(np.flatnonzero(combined == combined[row])[0])
        columns = [*keys, lay.time]
        raise DataValidationError(
            f"{rows.where(row)}: duplicate ({', '.join(columns)}) = "
            f"({', '.join(format_value(frame[c].iat[row], time_fmt) for c in columns)}), already at "
            f"{rows.where(original)}; expected one row per ({', '.join(columns)}) ({int(same.sum())} duplicates)"
        )
    same_series = series[order][1:] == series[order][:-1]
    if not same_series.any():
        return
    step = np.diff(steps[order])[same_series]
    if (step == 1).any():
        return
    # Every series steps by more than one period: name the pair that comes first in the file.
    pairs = np.flatnonzero(same_series)
    lefts, rights = order[pairs], order[pairs + 1]
    i = int(np.argmin(np.maximum(lefts, rights)))
    a, b = int(min(lefts[i], rights[i])), int(max(lefts[i], rights[i]))
    ta, tb = sorted([pd.Timestamp(times.iat[a]), pd.Timestamp(times.iat[b])])
    path_a, line_a = rows.locate(a)
    path_b, line_b = rows.locate(b)
    if path_a == path_b:
        unit, first_n = line_a.split()
        where = f"{unit}s {first_n} and {line_b.split()[1]} of {path_a}"
    else:
        where = f"{path_a}, {line_a} and {path_b}, {line_b}"
    series_text = f" ({describe(frame, a, keys)})" if keys else ""
    raise DataValidationError(
        f"frequency {lay.frequency}: {where}{series_text} are {_gap_text(ta, tb, lay.frequency)} apart "
        f"({ta.strftime(time_fmt)} and {tb.strftime(time_fmt)}), and every series of {lay.name} steps by more than "
        f"one period: the data looks coarser than {lay.frequency}; declare the frequency it has"
    )


def read_table(
    spec: DatasetSpec, table: TargetTable | RelatedTable | MetadataTable, paths: list[Path], check: bool = True
) -> TableData:
    """A table from its file(s), typed, the files' rows concatenated in order; with ``check``
    (the default), its rows are checked too (:func:`check_rows`)."""
    lay = layout(spec, table)
    frames, rows, start = [], Rows(), 0
    for path in paths:
        frame = read_file(path, lay)
        rows.add(Path(path), start, file_format(Path(path)))
        start += len(frame)
        frames.append(frame)
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    data = TableData(lay, frame, rows)
    if check:
        check_rows(data)
    return data
