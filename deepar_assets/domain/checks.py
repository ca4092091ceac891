"""Data-quality checks on raw periods: plain functions of RawData (and its spec) returning
(passed, figures). They warn about data that reads cleanly but looks wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading.validate import keys_in
from deepar_assets.domain.spec import periods

NEGATIVE_SHARE_LIMIT = 0.01  # Walmart's real data has 0.30 % negative rows (returns)
THIN_PERIOD_RATIO = 0.5  # a period with under half the median period's rows is suspicious


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    figures: dict[str, float | int | str] = field(default_factory=dict)


def related_rows_for_every_series(raw: RawData) -> CheckOutcome:
    """Every related table has a row for each of its keys that has target rows in a period."""
    spec = raw.spec
    figures: dict = {}
    passed = True
    for table in spec.related:
        columns = [*table.keys, spec.time]
        needed = raw.target[columns].drop_duplicates()
        have = raw.related[table.name][[*table.keys, table.time.column]].rename(columns={table.time.column: spec.time})
        missing = ~keys_in(needed, have, columns) if len(needed) else np.zeros(0, dtype=bool)
        figures[f"{table.name}_rows_expected"] = len(needed)
        figures[f"{table.name}_rows_missing"] = int(missing.sum())
        if missing.any():
            passed = False
            first = needed[missing].iloc[0]
            keys = ", ".join(f"{k} {first[k]}" for k in table.keys)
            figures[f"{table.name}_first_missing"] = (
                f"{keys + ', ' if keys else ''}period {periods.format_period(first[spec.time], spec.frequency)}"
            )
    return CheckOutcome(
        passed, "every related table has a row for each series' key in each period it has rows", figures
    )


def row_and_series_counts(raw: RawData) -> CheckOutcome:
    """Rows and series; fails when a period holds under half the rows of the median period."""
    spec = raw.spec
    per_period = raw.target.groupby(spec.time).size()
    median = float(np.median(per_period)) if len(per_period) else 0.0
    thin = per_period[per_period < THIN_PERIOD_RATIO * median]
    figures: dict = {
        "rows": len(raw.target),
        "series": int(len(raw.target[spec.ids].drop_duplicates())),
        "periods": len(per_period),
        "median_rows_per_period": median,
        "thin_periods": len(thin),
    }
    if len(thin):
        figures["first_thin_period"] = (
            f"{periods.format_period(pd.Timestamp(thin.index[0]), spec.frequency)} ({int(thin.iloc[0])} rows)"
        )
    return CheckOutcome(len(thin) == 0, "row and series counts, no unusually thin period", figures)


def negative_target_share(raw: RawData, limit: float = NEGATIVE_SHARE_LIMIT) -> CheckOutcome:
    """Negative target values (returns) are legal, but more than ``limit`` of the rows is suspicious."""
    values = raw.target[raw.spec.target_column]
    negative = int((values < 0).sum())
    share = negative / max(len(values), 1)
    return CheckOutcome(
        share <= limit,
        f"share of negative {raw.spec.target_column} at most {limit:.0%}",
        {"negative_rows": negative, "share": round(share, 6), "limit": limit},
    )


def no_empty_periods(raw: RawData) -> CheckOutcome:
    """Every period between the first and the last has target rows; a period with none (a store-wide
    gap, stored as missing values) is legal, but worth a look."""
    spec = raw.spec
    times = pd.DatetimeIndex(raw.target[spec.time].unique())
    figures: dict = {"empty_periods": 0}
    if len(times):
        grid = periods.period_index(times.min(), times.max(), spec.frequency)
        empty = grid.difference(times)
        figures["empty_periods"] = len(empty)
        if len(empty):
            figures["first_empty_period"] = periods.format_period(empty[0], spec.frequency)
    return CheckOutcome(figures["empty_periods"] == 0, "every period between the first and the last has rows", figures)


RAW_CHECKS = {
    "related_rows_for_every_series": related_rows_for_every_series,
    "row_and_series_counts": row_and_series_counts,
    "negative_target_share": negative_target_share,
    "no_empty_periods": no_empty_periods,
}
