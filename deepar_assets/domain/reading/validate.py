"""Cross-table checks of a dataset read as its spec declares (plain pandas).

- every key of a related table is a key of the target and the other way round, and a related
  table has a row for every period in which the target has rows for its key;
- every metadata key is a key of the target and every target series is described.

Each error names the file and line of the first offending row and how many there are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading.tables import TableData, describe, format_value, period_steps, series_codes
from deepar_assets.domain.spec import DatasetSpec
from deepar_assets.errors import DataValidationError


def keys_in(left: pd.DataFrame, right: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Per row of ``left``: whether its combination of ``columns`` occurs in ``right``."""
    both = pd.concat([left[columns], right[columns]], ignore_index=True)
    codes = series_codes(both, columns)
    return np.isin(codes[: len(left)], codes[len(left) :])


class KeyCodes:
    """One int64 per row for a combination of key columns, in the space of the target's values:
    rows of another table whose values the target never has get -1."""

    def __init__(self, target: pd.DataFrame, keys: list[str]):
        self.keys = keys
        self.uniques: list[pd.Index] = []
        self.codes = np.zeros(len(target), dtype=np.int64)
        for key in keys:
            codes, uniques = pd.factorize(target[key])
            self.uniques.append(pd.Index(uniques))
            self.codes = self.codes * len(uniques) + codes

    def of(self, frame: pd.DataFrame) -> np.ndarray:
        codes = np.zeros(len(frame), dtype=np.int64)
        unknown = np.zeros(len(frame), dtype=bool)
        for key, uniques in zip(self.keys, self.uniques, strict=True):
            index = uniques.get_indexer(frame[key])
            unknown |= index < 0
            codes = codes * len(uniques) + index
        return np.where(unknown, -1, codes)


def _count(values: np.ndarray) -> int:
    return len(pd.unique(values))


def check_related(target: TableData, related: TableData) -> None:
    """The related table's keys are the target's and the other way round; it has a row for every
    (key, period) in which the target has rows."""
    keys = list(related.layout.keys)
    t_frame, r_frame = target.frame, related.frame
    t_name, r_name = target.rows.name, related.rows.name
    codes = KeyCodes(t_frame, keys)
    r_codes = codes.of(r_frame)
    if keys:
        stray = ~pd.Series(r_codes).isin(codes.codes).to_numpy()
        if stray.any():
            row = int(np.argmax(stray))
            raise DataValidationError(
                f"{related.rows.where(row)}: {describe(r_frame, row, keys)} is in {related.layout.name} but no series "
                f"of the target table {t_name} has it; a related table's keys must be keys of the target "
                f"({_count(r_codes[stray])} such)"
            )
        missing = ~pd.Series(codes.codes).isin(r_codes).to_numpy()
        if missing.any():
            row = int(np.argmax(missing))
            raise DataValidationError(
                f"{target.rows.where(row)}: {describe(t_frame, row, keys)} has {target.layout.name} rows but {r_name} "
                f"has no row for it; expected every ({', '.join(keys)}) of the target in {related.layout.name} "
                f"({_count(codes.codes[missing])} such)"
            )
    time, frequency = target.layout.timed()
    t_times, r_times = t_frame[time].to_numpy(), r_frame[related.layout.timed()[0]].to_numpy()
    if not len(r_times):
        first = t_times.min()
    else:
        first = min(t_times.min(), r_times.min())
    t_steps = period_steps(t_times, first, frequency)
    r_steps = period_steps(r_times, first, frequency)
    span = int(max(t_steps.max(), r_steps.max() if len(r_steps) else 0)) + 1
    t_pairs = codes.codes * span + t_steps
    r_pairs = np.where(r_codes < 0, -1, r_codes * span + r_steps)
    missing = ~pd.Series(t_pairs).isin(r_pairs).to_numpy()
    if missing.any():
        row = int(np.argmax(missing))
        count = _count(t_pairs[missing])
        period = format_value(t_frame[time].iat[row], target.layout.column(time).fmt)
        if keys:
            raise DataValidationError(
                f"{target.rows.where(row)}: {describe(t_frame, row, keys)} has {target.layout.name} rows in the period "
                f"{period} but {r_name} has no row for that {', '.join(keys)} and period ({count} such)"
            )
        raise DataValidationError(
            f"{target.rows.where(row)}: the period {period} has {target.layout.name} rows but {r_name} has no row "
            f"for it ({count} such periods)"
        )


def check_metadata(target: TableData, metadata: TableData) -> None:
    """Every target series is described, and every described key is a key of the target."""
    keys = list(metadata.layout.keys)
    t_frame, m_frame = target.frame, metadata.frame
    codes = KeyCodes(t_frame, keys)
    m_codes = codes.of(m_frame)
    missing = ~pd.Series(codes.codes).isin(m_codes).to_numpy()
    if missing.any():
        row = int(np.argmax(missing))
        attributes = [c for c in metadata.layout.names if c not in keys]
        raise DataValidationError(
            f"{target.rows.where(row)}: {describe(t_frame, row, keys)} is missing from {metadata.rows.name}; expected "
            f"every ({', '.join(keys)}) of the target to have its attributes ({', '.join(attributes)}) "
            f"({_count(codes.codes[missing])} such)"
        )
    stray = ~pd.Series(m_codes).isin(codes.codes).to_numpy()
    if stray.any():
        row = int(np.argmax(stray))
        raise DataValidationError(
            f"{metadata.rows.where(row)}: {describe(m_frame, row, keys)} is in {metadata.layout.name} but no series of "
            f"the target table {target.rows.name} has it; a metadata table's keys must be keys of the target "
            f"({int(stray.sum())} such)"
        )


def check_tables(target: TableData, related: list[TableData], metadata: list[TableData]) -> None:
    """Every cross-table check (each table's own rows are checked when it is read)."""
    for table in related:
        check_related(target, table)
    for table in metadata:
        check_metadata(target, table)


def oddities(raw: RawData) -> dict[str, int]:
    """Counts worth reporting: negative target rows, and the NA values of each nullable covariate."""
    spec: DatasetSpec = raw.spec
    out = {"negative_target_rows": int((raw.target[spec.target_column] < 0).sum())}
    for name in spec.covariate_columns():
        if not spec.covariate(name).nullable:
            continue
        frames = [raw.target, *raw.related.values()]
        frame = next((f for f in frames if name in f.columns), None)
        if frame is not None:
            out[f"{name}_na_values"] = int(frame[name].isna().sum())
    return out
